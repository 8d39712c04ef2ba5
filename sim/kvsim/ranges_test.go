package kvsim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The ranges tile the circle: every position is in exactly one arc, the
// one rangeOf returns, and replicas of a range are distinct nodes.
func TestRangesTileTheRing(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 7, 64} {
		c := &cluster{ranges: layoutRanges(n, 3, 5)}
		positions := []uint64{0, 1, math.MaxUint64, math.MaxUint64 / 2}
		for _, rs := range c.ranges {
			positions = append(positions, rs.arc.Start, rs.arc.Start+1, rs.arc.End, rs.arc.End-1)
		}
		for range 1000 {
			positions = append(positions, rng.Uint64())
		}
		for _, pos := range positions {
			holders := 0
			for _, rs := range c.ranges {
				if rs.arc.Contains(pos) {
					holders++
				}
			}
			if holders != 1 {
				t.Fatalf("%d ranges: position %d is in %d arcs", n, pos, holders)
			}
			if rs := c.rangeOf(pos); !rs.arc.Contains(pos) {
				t.Fatalf("%d ranges: rangeOf(%d) = range %d (%d, %d]", n, pos, rs.id, rs.arc.Start, rs.arc.End)
			}
		}
		for _, rs := range c.ranges {
			seen := map[int]bool{}
			for _, i := range rs.replicas {
				if seen[i] || i < 0 || i >= 5 {
					t.Fatalf("range %d: replicas %v", rs.id, rs.replicas)
				}
				seen[i] = true
			}
			if d := rs.descriptor(); len(d.Replicas) != 3 || d.NextReplicaId != 4 {
				t.Fatalf("range %d: descriptor %v", rs.id, d)
			}
		}
	}
}
