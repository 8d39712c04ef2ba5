// Package kv is Concord's replicated key-value state machine: the pure,
// deterministic function from (store contents, command, revision, time) to
// (writes, response) that every replica of a range runs on each committed
// command, plus the reads served from a replica's state.
//
// It owns the meaning of every user operation (put, get, delete, touch,
// TTL, conditional writes, bulk operations, transactions, expiry sweeps and
// scans), the encoding of stored records (record.go), the input limits and
// the error vocabulary of the data path (ErrNotFound, ErrConditionFailed,
// ...), and the hash-tag rule that lets related keys share a range.
//
// It must never know about Raft, Pebble, the network or wall clocks: it
// reads and writes engine keys through the small Store interface, takes
// the command's revision and the state machine clock as arguments, and
// must produce byte-identical writes and responses on every replica given
// the same inputs. So it never iterates a Go map to decide an order, never
// reads the time, and never trusts a command it applies: Apply validates
// again what callers validated before proposing, and bad input writes
// nothing.
package kv
