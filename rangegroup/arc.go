package rangegroup

import (
	"math"

	"github.com/concord-kv/concord/rangegroup/kv"
)

// interval is the inclusive interval [lo, hi] of positions.
type interval struct{ lo, hi uint64 }

// intervals splits an arc (start, end] into at most two non-wrapping
// inclusive intervals; start == end is the whole circle.
func intervals(a kv.Arc) []interval {
	switch {
	case a.Start == a.End:
		return []interval{{0, math.MaxUint64}}
	case a.Start < a.End:
		return []interval{{a.Start + 1, a.End}}
	default:
		out := []interval{{0, a.End}}
		if a.Start != math.MaxUint64 {
			out = append(out, interval{a.Start + 1, math.MaxUint64})
		}
		return out
	}
}

// arcsOverlap reports whether two arcs share a position.
func arcsOverlap(a, b kv.Arc) bool {
	for _, x := range intervals(a) {
		for _, y := range intervals(b) {
			if x.lo <= y.hi && y.lo <= x.hi {
				return true
			}
		}
	}
	return false
}
