package ring

import "testing"

func TestRangeContains(t *testing.T) {
	cases := []struct {
		r    Range
		id   uint64
		want bool
	}{
		{Range{10, 20}, 10, false}, // start is excluded
		{Range{10, 20}, 20, true},  // end is included: a key equal to a node id is that node's
		{Range{10, 20}, 15, true},
		{Range{10, 20}, 21, false},
		{Range{20, 10}, 25, true}, // wraps past zero
		{Range{20, 10}, 0, true},
		{Range{20, 10}, 10, true},
		{Range{20, 10}, 15, false},
		{Range{20, 10}, 20, false},
		{Range{7, 7}, 7, true}, // whole circle
		{Range{7, 7}, 0, true},
		{Range{0, ^uint64(0)}, 0, false},
		{Range{0, ^uint64(0)}, ^uint64(0), true},
	}
	for _, c := range cases {
		if got := c.r.Contains(c.id); got != c.want {
			t.Errorf("%v.Contains(%d) = %v, want %v", c.r, c.id, got, c.want)
		}
	}
}

func TestBetween(t *testing.T) {
	if !between(5, 6, 5) || between(5, 5, 5) {
		t.Fatal("between(a, x, a) must be every x but a")
	}
	if between(10, 10, 20) || between(10, 20, 20) || !between(10, 11, 20) {
		t.Fatal("between is an open interval")
	}
	if !between(20, 0, 10) || !between(20, 25, 10) || between(20, 15, 10) {
		t.Fatal("between must wrap past zero")
	}
}

func TestMaskAndDistance(t *testing.T) {
	if mask(64) != ^uint64(0) || mask(1) != 1 || mask(8) != 255 {
		t.Fatal("mask")
	}
	if distance(250, 4, 8) != 10 {
		t.Fatalf("distance wraps: got %d", distance(250, 4, 8))
	}
}
