package rebalance

import (
	"cmp"
	"slices"
	"time"
)

// Member is one node as the cluster knows it.
type Member struct {
	// Name is the node's name, as it appears in range descriptors.
	Name string
	// ID is the node's ring id.
	ID uint64
	// Alive: gossip says the node is alive.
	Alive bool
	// DownSince is when the node was last seen failing; zero while alive.
	// A Rebalancer stands in the time it first saw a dead member for a
	// zero DownSince, so a View that does not know it still gets a grace
	// period.
	DownSince time.Time
	// Left: the node left gracefully and is replaced at once, with no
	// grace period.
	Left bool
}

// View is the cluster membership as gossip knows it.
type View interface {
	// Members returns every ring member gossip knows, alive or not.
	Members() []Member
}

// Present reports whether the member counts for placement at time now: it
// is alive, or it failed (without leaving) less than grace ago. A member
// that left never counts.
func (m Member) Present(now time.Time, grace time.Duration) bool {
	switch {
	case m.Left:
		return false
	case m.Alive:
		return true
	default:
		return now.Sub(m.DownSince) < grace
	}
}

// presentMembers returns the members that count for placement, ordered by
// ring id, one per id (the lowest name wins a tie, which the ring reports as
// an error on join and never lets stand).
func presentMembers(members []Member, now time.Time, grace time.Duration) []Member {
	out := make([]Member, 0, len(members))
	for _, m := range members {
		if m.Present(now, grace) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Name, b.Name))
	})
	return slices.CompactFunc(out, func(a, b Member) bool { return a.ID == b.ID })
}
