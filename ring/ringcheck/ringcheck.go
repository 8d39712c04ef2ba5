// Package ringcheck checks ring invariants over a set of live ring.Nodes.
// Tests, the fuzz targets and the simulator share it so that "the ring is
// correct" means one thing everywhere.
//
// It only reads nodes through their public API and must never change them.
package ringcheck

import (
	"fmt"
	"slices"

	"github.com/concord-kv/concord/ring"
)

// Local checks the invariants that must hold at every moment for one node:
// its successor list is ordered clockwise from the node, has no duplicate
// ids and never names the node itself.
func Local(n *ring.Node) error {
	self := n.Id()
	var prev uint64
	for i, s := range n.Successors() {
		if s.Id == self {
			return fmt.Errorf("%s lists itself as successor %d", n.Name(), i)
		}
		d := s.Id - self // clockwise distance modulo 2^64; ids share the mask
		if i > 0 && d <= prev {
			return fmt.Errorf("%s successor list out of order or duplicated at %d (%v)", n.Name(), i, n.Successors())
		}
		prev = d
	}
	return nil
}

// Ideal reports how the live nodes differ from the ideal ring, or nil:
// each node's successor list is the next min(r, N-1) nodes by id, its
// predecessor is the previous node (the same incarnation: name and
// address), and so the ranges (pred, self] tile the circle with no gap or
// overlap. r is the nodes' SuccessorCount.
func Ideal(live []*ring.Node, r int) error {
	sorted := slices.Clone(live)
	slices.SortFunc(sorted, func(a, b *ring.Node) int {
		switch {
		case a.Id() < b.Id():
			return -1
		case a.Id() > b.Id():
			return 1
		}
		return 0
	})
	count := len(sorted)
	for i, n := range sorted {
		if err := Local(n); err != nil {
			return err
		}
		succs := n.Successors()
		if want := min(count-1, r); len(succs) != want {
			return fmt.Errorf("%s has %d successors, want %d", n.Name(), len(succs), want)
		}
		for k, s := range succs {
			if exp := sorted[(i+1+k)%count]; s.Name != exp.Name() || s.Address != exp.Address() {
				return fmt.Errorf("%s successor %d is %s, want %s", n.Name(), k, s, exp.Self())
			}
		}
		rg, ok := n.Range()
		if !ok {
			return fmt.Errorf("%s has no range", n.Name())
		}
		prev := sorted[(i+count-1)%count]
		if p, ok := n.Predecessor(); count > 1 && (!ok || p.Name != prev.Name() || p.Address != prev.Address()) {
			return fmt.Errorf("%s predecessor is %v (known: %v), want %s", n.Name(), p, ok, prev.Self())
		}
		if want := (ring.Range{Start: prev.Id(), End: n.Id()}); rg != want {
			return fmt.Errorf("%s range %v, want %v", n.Name(), rg, want)
		}
	}
	return nil
}

// Owner returns the node among live that owns id: the first at or
// clockwise after it.
func Owner(live []*ring.Node, id uint64) *ring.Node {
	var best *ring.Node
	var bestDist uint64
	for _, n := range live {
		if d := n.Id() - id; best == nil || d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}
