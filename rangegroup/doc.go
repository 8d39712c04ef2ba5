// Package rangegroup is Concord's multi-raft engine: a Store owns every range
// replica on a node, drives one raft.RawNode per replica from a small pool
// of scheduler workers, replicates commands through Raft, and applies them
// to the key-value state machine of package rangegroup/kv.
//
// Invariants the package keeps:
//   - No goroutine and no ticker per range. One ticker marks ranges for a
//     tick; a fixed set of workers processes ranges that have work, a range
//     is processed by at most one worker at a time, and one syncer per Store
//     waits for log syncs.
//   - Raft runs with asynchronous storage writes. A worker writes the Raft
//     log entries and hard states of every range it processes in one
//     Pebble batch (group commit across ranges) without waiting for its
//     sync; the syncer waits for the batches' syncs in commit order and
//     only then delivers what Raft said must follow them (acknowledgements,
//     votes, the local append's completion). Committed entries are applied
//     in one unsynced batch per pass (the durable log replays them after a
//     crash), and only once they are durable on this node.
//   - A write is acknowledged only after its entry is committed and applied.
//   - The range descriptor in the applied state, not the ring, decides which
//     keys a replica serves; no two live replicas on a node serve one
//     position.
//   - A key's revisions only grow: a revision is a command's log index plus
//     the range's revision offset, which a merge moves past the absorbed
//     range's revisions (merge.go).
//   - Every replica reports the changes it applies, in apply order, to the
//     Store's bounded watch history (watch.go), so that any replica can
//     serve or resume a watch.
//
// The package must never decide where replicas should be (rebalance/ does)
// or route requests between nodes (router/ does); it executes the moves and
// answers with NotLeader or RangeMismatch errors that let callers retry.
package rangegroup
