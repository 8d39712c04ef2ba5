package kv

import (
	"math"

	"github.com/concord-kv/concord/storage"
)

// Arc is the set of ring positions a range serves: (Start, End], wrapping
// past zero when Start > End; Start == End is the whole circle.
type Arc struct {
	Start, End uint64
}

// Contains reports whether position pos lies in the arc.
func (a Arc) Contains(pos uint64) bool {
	switch {
	case a.Start == a.End:
		return true
	case a.Start < a.End:
		return pos > a.Start && pos <= a.End
	default:
		return pos > a.Start || pos <= a.End
	}
}

// spans are the engine-key spans holding the arc's user data, in key
// order.
func (a Arc) spans() []storage.Span {
	return storage.UserSpans(a.Start, a.End)
}

// Intervals splits the arc into at most two non-wrapping inclusive
// intervals [lo, hi] of positions, in position order.
func (a Arc) Intervals() [][2]uint64 {
	switch {
	case a.Start == a.End:
		return [][2]uint64{{0, math.MaxUint64}}
	case a.Start < a.End:
		return [][2]uint64{{a.Start + 1, a.End}}
	default:
		out := [][2]uint64{{0, a.End}}
		if a.Start != math.MaxUint64 {
			out = append(out, [2]uint64{a.Start + 1, math.MaxUint64})
		}
		return out
	}
}

// Overlaps reports whether two arcs share a position.
func (a Arc) Overlaps(b Arc) bool {
	for _, x := range a.Intervals() {
		for _, y := range b.Intervals() {
			if x[0] <= y[1] && y[0] <= x[1] {
				return true
			}
		}
	}
	return false
}
