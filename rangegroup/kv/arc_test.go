package kv

import (
	"math"
	"testing"
)

func TestArcContains(t *testing.T) {
	t.Parallel()
	const max = math.MaxUint64
	cases := []struct {
		arc  Arc
		pos  uint64
		want bool
	}{
		{Arc{10, 20}, 10, false}, // start excluded
		{Arc{10, 20}, 11, true},
		{Arc{10, 20}, 20, true}, // end included
		{Arc{10, 20}, 21, false},
		{Arc{10, 20}, 0, false},
		{Arc{20, 10}, 21, true}, // wraps
		{Arc{20, 10}, max, true},
		{Arc{20, 10}, 0, true},
		{Arc{20, 10}, 10, true},
		{Arc{20, 10}, 11, false},
		{Arc{20, 10}, 20, false},
		{Arc{max, 0}, 0, true},
		{Arc{max, 0}, max, false},
		{Arc{0, max}, 0, false},
		{Arc{0, max}, max, true},
		{Arc{5, 5}, 5, true}, // whole circle
		{Arc{5, 5}, 0, true},
		{Arc{}, max, true},
	}
	for _, c := range cases {
		if got := c.arc.Contains(c.pos); got != c.want {
			t.Errorf("%v.Contains(%d) = %v, want %v", c.arc, c.pos, got, c.want)
		}
	}
}
