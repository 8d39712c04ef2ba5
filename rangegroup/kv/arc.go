package kv

import "github.com/concord-kv/concord/storage"

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
