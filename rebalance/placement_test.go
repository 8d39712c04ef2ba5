package rebalance

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestPlacement(t *testing.T) {
	t.Parallel()
	ring := []Member{alive("a", 100), alive("b", 200), alive("c", 300), alive("d", 400)}
	dead := func(m Member, ago time.Duration) Member {
		m.Alive, m.DownSince = false, t0.Add(-ago)
		return m
	}
	left := func(m Member) Member {
		m.Alive, m.Left, m.DownSince = false, true, t0
		return m
	}
	tests := []struct {
		name     string
		end      uint64
		members  []Member
		replicas int
		want     []string
	}{
		{"a node whose id is the end comes first", 200, ring, 3, []string{"b", "c", "d"}},
		{"just past a node starts at the next", 201, ring, 3, []string{"c", "d", "a"}},
		{"wraps past the highest id", 350, ring, 3, []string{"d", "a", "b"}},
		{"past every id wraps to the lowest", math.MaxUint64, ring, 2, []string{"a", "b"}},
		{"position zero", 0, ring, 1, []string{"a"}},
		{"fewer nodes than replicas", 250, ring[:2], 3, []string{"a", "b"}},
		{"unsorted input", 150, []Member{ring[3], ring[1], ring[0], ring[2]}, 3, []string{"b", "c", "d"}},
		{"failed within grace still counts", 150, []Member{ring[0], dead(ring[1], time.Second), ring[2], ring[3]}, 3, []string{"b", "c", "d"}},
		{"failed past grace is skipped", 150, []Member{ring[0], dead(ring[1], time.Hour), ring[2], ring[3]}, 3, []string{"c", "d", "a"}},
		{"left is skipped at once", 150, []Member{ring[0], left(ring[1]), ring[2], ring[3]}, 3, []string{"c", "d", "a"}},
		{"duplicate ids count once", 150, []Member{ring[0], ring[1], alive("b2", 200), ring[2]}, 3, []string{"b", "c", "a"}},
		{"no members", 5, nil, 3, []string{}},
		{"the edge of the id space", 5, []Member{alive("z", math.MaxUint64), alive("o", 0)}, 3, []string{"z", "o"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := names(Placement(tc.end, tc.members, tc.replicas, t0, time.Minute))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Placement(%d) = %v, want %v", tc.end, got, tc.want)
			}
		})
	}
}

func TestMemberPresent(t *testing.T) {
	t.Parallel()
	grace := 30 * time.Second
	tests := []struct {
		name string
		m    Member
		want bool
	}{
		{"alive", Member{Alive: true}, true},
		{"failed just now", Member{DownSince: t0}, true},
		{"failed a moment before grace ends", Member{DownSince: t0.Add(-grace + time.Nanosecond)}, true},
		{"failed exactly grace ago", Member{DownSince: t0.Add(-grace)}, false},
		{"failed long ago", Member{DownSince: t0.Add(-time.Hour)}, false},
		{"left just now", Member{Left: true, DownSince: t0}, false},
		{"left but still marked alive", Member{Left: true, Alive: true}, false},
	}
	for _, tc := range tests {
		if got := tc.m.Present(t0, grace); got != tc.want {
			t.Errorf("%s: Present = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSplitPoint(t *testing.T) {
	t.Parallel()
	ms := []Member{alive("a", 10), alive("b", 20), alive("c", 30)}
	tests := []struct {
		name       string
		start, end uint64
		want       uint64
		found      bool
	}{
		{"whole circle splits at the next id after start", 10, 10, 20, true},
		{"whole circle from the last id wraps", 30, 30, 10, true},
		{"end is not a split point", 10, 20, 0, false},
		{"start is not a split point", 20, 25, 0, false},
		{"inside", 15, 35, 20, true},
		{"wrapping arc", 25, 15, 30, true},
		{"wrapping arc past zero", 35, 15, 10, true},
	}
	for _, tc := range tests {
		got, found := splitPoint(tc.start, tc.end, ms)
		if got != tc.want || found != tc.found {
			t.Errorf("%s: splitPoint(%d, %d) = %d, %v; want %d, %v", tc.name, tc.start, tc.end, got, found, tc.want, tc.found)
		}
	}
}
