package kv

import (
	"math"
	"testing"
)

func TestArcOverlapsMatchesContains(t *testing.T) {
	points := []uint64{0, 1, 5, 9, 10, 100, math.MaxUint64 - 1, math.MaxUint64}
	for _, as := range points {
		for _, ae := range points {
			for _, bs := range points {
				for _, be := range points {
					a, b := Arc{as, ae}, Arc{bs, be}
					// Reference: a shared position among the interesting
					// ones (every interval edge is one of them or next to one).
					want := false
					for _, p := range points {
						for _, q := range []uint64{p, p + 1} {
							if a.Contains(q) && b.Contains(q) {
								want = true
							}
						}
					}
					if got := a.Overlaps(b); got != want {
						t.Fatalf("%v.Overlaps(%v) = %v, want %v", a, b, got, want)
					}
				}
			}
		}
	}
}
