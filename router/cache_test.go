package router

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage/storagepb"
)

func desc(id, start, end, gen uint64, nodes ...string) *storagepb.RangeDescriptor {
	d := &storagepb.RangeDescriptor{RangeId: id, Start: start, End: end, Generation: gen}
	for i, n := range nodes {
		d.Replicas = append(d.Replicas, &storagepb.ReplicaDescriptor{Node: n, ReplicaId: uint64(i + 1)})
	}
	return d
}

// ids lists the cached range ids in cache order.
func ids(c *cache) []uint64 {
	var out []uint64
	for _, d := range c.descriptors() {
		out = append(out, d.RangeId)
	}
	return out
}

func lookupID(c *cache, pos uint64) uint64 {
	e, ok := c.lookup(pos)
	if !ok {
		return 0
	}
	return e.desc.RangeId
}

func TestCacheLookupWrapsAroundZero(t *testing.T) {
	t.Parallel()
	var c cache
	if _, ok := c.lookup(5); ok {
		t.Fatal("empty cache found a range")
	}
	c.update(desc(1, 100, 200, 1, "a"), "")
	c.update(desc(2, 200, 100, 1, "a"), "") // wraps: (200, max] and [0, 100]
	for _, tc := range []struct {
		pos  uint64
		want uint64
	}{{0, 2}, {100, 2}, {101, 1}, {200, 1}, {201, 2}, {math.MaxUint64, 2}} {
		if got := lookupID(&c, tc.pos); got != tc.want {
			t.Errorf("lookup(%d) = range %d, want %d", tc.pos, got, tc.want)
		}
	}
	// A gap in the cache's knowledge is a miss, not a neighbour.
	c.drop(2)
	for _, pos := range []uint64{0, 100, 201, math.MaxUint64} {
		if got := lookupID(&c, pos); got != 0 {
			t.Errorf("lookup(%d) after drop = range %d, want a miss", pos, got)
		}
	}
	// The whole circle.
	var w cache
	w.update(desc(9, 42, 42, 1, "a"), "")
	for _, pos := range []uint64{0, 42, 43, math.MaxUint64} {
		if got := lookupID(&w, pos); got != 9 {
			t.Errorf("whole circle: lookup(%d) = %d", pos, got)
		}
	}
}

func TestCacheNewerGenerationWinsOlderIgnored(t *testing.T) {
	t.Parallel()
	var c cache
	if !c.update(desc(1, 0, 1000, 3, "a", "b"), "a") {
		t.Fatal("first descriptor not cached")
	}
	// A split: the left half keeps id 1, the right half is range 2, both
	// one generation up. Each replaces the old range where they overlap.
	if !c.update(desc(2, 500, 1000, 4, "a", "b"), "b") {
		t.Fatal("newer right half refused")
	}
	if got := ids(&c); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("after right half: cached %v, want [2] (the old whole range is gone)", got)
	}
	if got := lookupID(&c, 100); got != 0 {
		t.Fatalf("position of the unknown left half resolves to range %d", got)
	}
	// A late answer with the pre-split descriptor is ignored.
	if c.update(desc(1, 0, 1000, 3, "a", "b"), "a") {
		t.Fatal("older descriptor replaced a newer one")
	}
	if !c.update(desc(1, 0, 500, 4, "a", "b"), "") {
		t.Fatal("left half refused")
	}
	if got := ids(&c); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("cached %v, want [1 2] in end order", got)
	}
	if lookupID(&c, 500) != 1 || lookupID(&c, 501) != 2 {
		t.Fatalf("split point: 500 -> %d, 501 -> %d", lookupID(&c, 500), lookupID(&c, 501))
	}
	// The same generation again changes nothing but may carry a leader.
	if c.update(desc(2, 500, 1000, 4, "a", "b"), "a") {
		t.Fatal("re-learning the same generation reported a change")
	}
	if e, _ := c.lookup(600); e.leader != "a" {
		t.Fatalf("leader hint = %q, want a", e.leader)
	}
	// A merge (generation above both) replaces both halves.
	if !c.update(desc(1, 0, 1000, 5, "a", "b"), "") {
		t.Fatal("merge refused")
	}
	if got := ids(&c); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after merge: cached %v", got)
	}
	// An older range that overlaps only partly is refused as a whole.
	if c.update(desc(7, 900, 2000, 2, "a"), "") {
		t.Fatal("older overlapping descriptor cached")
	}
	if got := lookupID(&c, 1500); got != 0 {
		t.Fatalf("refused descriptor serves position 1500 as range %d", got)
	}
}

func TestCacheLeaderHints(t *testing.T) {
	t.Parallel()
	var c cache
	c.update(desc(1, 0, 10, 1, "a", "b", "c"), "b")
	leader := func() string { e, _ := c.lookup(5); return e.leader }
	if leader() != "b" {
		t.Fatalf("leader %q", leader())
	}
	c.setLeader(1, "z") // not a replica: ignored
	if leader() != "b" {
		t.Fatalf("non-replica became leader: %q", leader())
	}
	c.dropLeader(1, "c") // not the leader: nothing to drop
	if leader() != "b" {
		t.Fatalf("dropLeader of another node cleared the hint: %q", leader())
	}
	c.dropLeader(1, "b")
	if leader() != "" {
		t.Fatalf("hint survived dropLeader: %q", leader())
	}
	c.setLeader(1, "c")
	// A newer descriptor without a hint keeps the known leader if it is
	// still a replica, and drops it otherwise.
	c.update(desc(1, 0, 10, 2, "a", "c"), "")
	if leader() != "c" {
		t.Fatalf("hint lost on a newer descriptor: %q", leader())
	}
	c.update(desc(1, 0, 10, 3, "a", "b"), "")
	if leader() != "" {
		t.Fatalf("hint kept for a node no longer a replica: %q", leader())
	}
}

// TestCacheMatchesLinearSearch checks lookup against a scan of every
// entry, over random tilings of the circle learned piecemeal.
func TestCacheMatchesLinearSearch(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(8)
		cuts := make([]uint64, n)
		for i := range cuts {
			cuts[i] = rng.Uint64()
		}
		if round%5 == 0 {
			cuts[0] = math.MaxUint64
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		var all []*storagepb.RangeDescriptor
		for i := range cuts {
			start := cuts[(i+len(cuts)-1)%len(cuts)]
			all = append(all, desc(uint64(i+1), start, cuts[i], 1, "a"))
		}
		var c cache
		known := map[uint64]bool{}
		for _, d := range all {
			if rng.IntN(3) > 0 {
				c.update(d, "")
				known[d.RangeId] = true
			}
		}
		for range 50 {
			pos := rng.Uint64()
			if rng.IntN(4) == 0 {
				pos = cuts[rng.IntN(len(cuts))] + uint64(rng.IntN(3)) - 1
			}
			var want uint64
			for _, d := range all {
				if known[d.RangeId] && (kv.Arc{Start: d.Start, End: d.End}).Contains(pos) {
					want = d.RangeId
				}
			}
			if got := lookupID(&c, pos); got != want {
				t.Fatalf("round %d: cuts %v known %v: lookup(%d) = %d, want %d", round, cuts, known, pos, got, want)
			}
		}
	}
}
