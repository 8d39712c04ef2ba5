// Package rangegroup is Concord's multi-raft engine: a Store owns every range
// replica on a node, drives one raft.RawNode per replica from a small pool
// of scheduler workers, replicates commands through Raft, and applies them
// to the key-value state machine of package rangegroup/kv.
//
// Invariants the package keeps:
//   - No goroutine and no ticker per range. One ticker marks ranges for a
//     tick; a fixed set of workers processes ranges that have work, and a
//     range is processed by at most one worker at a time.
//   - A worker persists the Raft log entries and hard states of every range
//     it processes in one synced Pebble batch (group commit across ranges)
//     before it sends the messages those Readys produced, then applies the
//     committed entries in one unsynced batch (the durable log replays them
//     after a crash), then advances each RawNode.
//   - A write is acknowledged only after its entry is committed and applied.
//   - The range descriptor in the applied state, not the ring, decides which
//     keys a replica serves.
//
// The package must never decide where replicas should be (rebalance/ does)
// or route requests between nodes (router/ does); it executes the moves and
// answers with NotLeader or RangeMismatch errors that let callers retry.
package rangegroup
