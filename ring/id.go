package ring

import "fmt"

// Range is the half-open arc (Start, End] of the identifier circle.
//
// Start == End means the whole circle (a node alone in its ring owns every
// id); Start > End wraps past zero.
type Range struct {
	Start, End uint64
}

// Contains reports whether id lies in the arc (Start, End].
func (r Range) Contains(id uint64) bool {
	switch {
	case r.Start == r.End:
		return true
	case r.Start < r.End:
		return id > r.Start && id <= r.End
	default:
		return id > r.Start || id <= r.End
	}
}

// String formats the arc as "(start, end]".
func (r Range) String() string {
	return fmt.Sprintf("(%d, %d]", r.Start, r.End)
}

// between reports whether x lies strictly inside the open arc (a, b) going
// clockwise from a. When a == b the arc is the whole circle but a itself.
func between(a, x, b uint64) bool {
	switch {
	case a < b:
		return x > a && x < b
	case a > b:
		return x > a || x < b
	default:
		return x != a
	}
}

// distance is the clockwise distance from a to b on a circle of 2^bits ids.
func distance(a, b uint64, bits int) uint64 {
	return (b - a) & mask(bits)
}

// mask returns the bit mask that keeps the low bits of an id (1 <= bits <= 64).
func mask(bits int) uint64 {
	if bits >= 64 {
		return ^uint64(0)
	}
	return (uint64(1) << uint(bits)) - 1
}
