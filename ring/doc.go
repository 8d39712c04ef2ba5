// Package ring is Concord's Chord ring: node identifiers, the arcs they own,
// successor lists, fingers, and lookups.
//
// It implements Pamela Zave's provably correct variant of Chord ("Reasoning
// about identifier spaces: how to make Chord correct", 2017): successor lists
// of length r, a join that adopts the successor's list, stabilization with
// the Stabilize2 step, rectify instead of notify, and the rule that a pointer
// is never adopted before the node it names has answered.
//
// A node owns the half-open arc (predecessor, self]; a key whose hash equals a
// node's id belongs to that node. Range changes reach the application through
// Config.OnRangeChange, in order, one at a time, and never while a lock of the
// node is held, so a callback may call any method of the Node.
//
// The package stays usable on its own as a DHT library: it must never import
// storage, Raft or membership code. A failure detector (such as the
// membership package) is wired in from outside through Config.Peers and
// Node.MarkFailed.
package ring
