// Package membership tells a Concord node who else is alive.
//
// It wraps hashicorp/memberlist (SWIM gossip with Lifeguard extensions) and
// owns: the gossip endpoint of a node (datagrams and streams over a
// transport.Network, so the same code runs on real TCP/UDP and on the
// in-memory network with injected faults), the node's metadata (opaque
// string key/values, gossiped to everyone), failure detection, and an ordered
// stream of membership events (joined, updated, failed, left). It also keeps
// re-joining its configured seeds while any of them is missing, so a node cut
// off for longer than memberlist's dead-node gossip window, or the two halves
// of a healed partition, find each other again.
//
// It must never know anything about the ring, ranges, Raft or storage: it
// imports no other Concord package except transport, metadata values are
// opaque, and the root package is what turns membership events into ring
// actions. It must never block memberlist: events go through an unbounded
// queue, so a slow consumer delays only itself.
package membership
