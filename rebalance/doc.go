// Package rebalance keeps every range on the nodes the placement rule names.
//
// The placement rule (DESIGN.md): the replicas of range (a, b] are the first
// R distinct present nodes walking the ring clockwise from position b (a
// node whose id equals b comes first), and the preferred leader is the
// first of them. A Rebalancer runs on every node and acts only on the ranges
// this node leads: it splits a range at every member id strictly inside it,
// adds missing replicas as learners (at most MaxConcurrentSnapshots being
// caught up at once, node-wide), promotes a caught-up learner while removing
// an unwanted voter in the same joint change, removes what no longer
// belongs, and hands leadership to the preferred leader.
//
// The decision for one range is the pure function Plan, which returns one
// action at a time; the Rebalancer runs a pass over its led ranges whenever
// Trigger is called (ring or membership changes), after each successful
// action, and on a periodic scan, so a missed trigger delays placement but
// never breaks it. Actions run in the background under a timeout; a failed
// one is logged and planned afresh by a later pass, paced by the interval.
//
// Merging adjacent ranges with equal replica sets is not done yet: it needs
// a merge command in rangegroup. Plan's concerns are a list of rules, so a
// merge is one more rule (and one more ActionKind) when that exists.
//
// Invariants the package keeps:
//   - Only a range's leader acts on it, and at most one action per range
//     runs at a time, planned from a view of the range taken after the
//     previous one ended.
//   - A range never loses its last voter, and a leader never removes itself:
//     it hands leadership to a wanted, caught-up voter first.
//   - A replica is added only as a learner and promoted only once it has
//     caught up, so the range's voters never wait on a snapshot.
//   - A member that failed (and did not leave) still counts for placement
//     for Config.Grace, so a quick restart causes no re-replication; a
//     member that left gracefully is replaced at once.
//
// The package must never decide what a replica serves (the descriptor in
// rangegroup does), never talk to other nodes itself (it acts through the
// Store), and never read the ring's routing state: the View's membership is
// its only input on where replicas should be.
package rebalance
