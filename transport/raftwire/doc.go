// Package raftwire carries raft traffic between Concord nodes.
//
// It owns two kinds of gRPC streams. Messages: one long-lived stream per
// peer node carries batches of raft messages for every range that the two
// nodes share, fed by a per-peer queue that Send fills without ever blocking
// and that a per-peer sender goroutine drains, coalescing whatever is queued
// into as few stream messages as possible. Snapshots: each snapshot travels
// on a stream of its own, chunked, rate-limited node-wide and capped in
// concurrency, and the receiver's verdict comes back to the sender.
//
// Raft tolerates lost, duplicated and late messages, so the message path
// favours never blocking the caller over never losing: a full queue or a
// broken stream drops messages, counts them and tells the caller through
// Config.OnUnreachable. What it does guarantee is order: the messages from
// one node to another are handed over in the order they were sent, across
// reconnects too (a receiver stops delivering from a stream once a newer one
// from the same sender has started).
//
// The package must never interpret what it carries: it knows range ids and
// raft messages as opaque encodings, nothing of descriptors, replicas or
// storage, and it imports no Concord package above transport.
//
// Stream lifetime. A transport.Pool gives every stream without a deadline
// one of its CallTimeout, far too short for a stream meant to live for
// hours. Message streams therefore carry their own deadline, six minutes,
// and the sender renews a stream that is five minutes old when it next has
// something to send: it half-closes the old stream, waits until the
// receiver has handed over everything on it, then opens a new one, so
// renewal loses and reorders nothing. (A stream left idle past its deadline
// simply ends and is replaced on the next send; IdleTimeout usually retires
// it first.) Snapshot streams run under the caller's context, given a far
// deadline if it has none (see Transport.SendSnapshot).
//
// Liveness. Bytes written to a peer that stopped answering (a partition, a
// machine that vanished without resetting its connections) are buffered, not
// refused, so a sender cannot tell a slow link from a dead one by writing.
// The sender asks for an acknowledgement on one batch at a time; if none
// comes within Config.AckTimeout the stream is declared broken, its
// connection dropped, OnUnreachable called, and the sender reconnects with
// backoff.
package raftwire
