package rebalance

import (
	"sort"
	"time"
)

// Placement returns the nodes that should hold the replicas of a range
// ending at position end: the first min(replicas, N) distinct members that
// are present at now (see Member.Present), walking the ring clockwise from
// end, where a member whose id equals end comes first. The first node is
// the preferred leader.
func Placement(end uint64, members []Member, replicas int, now time.Time, grace time.Duration) []Member {
	return placementOf(end, presentMembers(members, now, grace), replicas)
}

// placementOf is Placement over members already filtered and sorted by
// presentMembers.
func placementOf(end uint64, present []Member, replicas int) []Member {
	n := min(replicas, len(present))
	if n <= 0 {
		return nil
	}
	// successor(end): the first id >= end, wrapping to the lowest id.
	first := sort.Search(len(present), func(i int) bool { return present[i].ID >= end })
	out := make([]Member, 0, n)
	for i := range n {
		out = append(out, present[(first+i)%len(present)])
	}
	return out
}
