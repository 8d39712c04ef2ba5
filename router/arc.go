package router

import (
	"math"

	"github.com/concord-kv/concord/rangegroup/kv"
)

// span is the inclusive interval [lo, hi] of positions.
type span struct{ lo, hi uint64 }

// spans splits an arc (start, end] into at most two non-wrapping inclusive
// intervals in position order; start == end is the whole circle.
func spans(a kv.Arc) []span {
	switch {
	case a.Start == a.End:
		return []span{{0, math.MaxUint64}}
	case a.Start < a.End:
		return []span{{a.Start + 1, a.End}}
	default:
		out := []span{{0, a.End}}
		if a.Start != math.MaxUint64 {
			out = append(out, span{a.Start + 1, math.MaxUint64})
		}
		return out
	}
}

// overlap reports whether two arcs share a position.
func overlap(a, b kv.Arc) bool {
	for _, x := range spans(a) {
		for _, y := range spans(b) {
			if x.lo <= y.hi && y.lo <= x.hi {
				return true
			}
		}
	}
	return false
}

// segmentEnd is the last position of the contiguous stretch of arc a that
// starts at or before pos and holds it (a wrapping arc has two stretches;
// scans walk positions in increasing order). a must contain pos.
func segmentEnd(a kv.Arc, pos uint64) uint64 {
	for _, s := range spans(a) {
		if s.lo <= pos && pos <= s.hi {
			return s.hi
		}
	}
	return pos
}
