// Package router turns any key into the replica that must serve it and gets
// the request there: key -> ring position -> cached range descriptor ->
// leader (or, for eventual reads, any replica) -> this node's Store or one
// forwarding hop to another node.
//
// It owns the descriptor cache (ordered by range end, newer generations
// replace older ones, never the reverse), the retry loop that follows
// NotLeader and RangeMismatch answers within the caller's deadline, the
// splitting of bulk operations by range and the reassembly of their
// per-item results in request order, scans across ranges, and the Forward
// gRPC service through which nodes serve each other's requests.
//
// Invariants:
//   - Forwarding is single-hop: a node serving a Forward request uses only
//     its own Store and never forwards it again, so stale caches cannot make
//     a request loop.
//   - A write is retried only after an answer that proves it was not
//     applied (not leader, range mismatch, range not found, unavailable
//     before proposal, or a node that was never reached). A write whose
//     outcome is unknown is never resent: the caller gets an error wrapping
//     rangegroup.ErrTimeout.
//   - Every wait and every call is bounded by the caller's context.
//
// The package must never decide where replicas should be (rebalance/ does),
// change a range (rangegroup/ does), or interpret a command (rangegroup/kv
// does): it routes requests and relays answers.
package router
