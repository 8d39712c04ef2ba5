package ringsim

import (
	"slices"
	"testing"

	"github.com/concord-kv/concord/ring"
)

// idealViews returns the views of an ideal ring of nodes with the given ids
// (sorted ascending) and successor lists of length r.
func idealViews(ids []uint64, r int) []nodeView {
	n := len(ids)
	views := make([]nodeView, n)
	for i, id := range ids {
		v := nodeView{name: nameOf(id), id: id, member: true, hasPred: n > 1, hasRange: true}
		for k := 1; k <= min(r, n-1); k++ {
			s := ids[(i+k)%n]
			v.succs = append(v.succs, ring.Server{Name: nameOf(s), Id: s})
		}
		prev := ids[(i+n-1)%n]
		if n > 1 {
			v.pred = ring.Server{Name: nameOf(prev), Id: prev}
		}
		v.rng = ring.Range{Start: prev, End: id}
		views[i] = v
	}
	return views
}

func nameOf(id uint64) string { return "n" + string(rune('A'+id/10)) + string(rune('0'+id%10)) }

func kinds(fs []finding) []string {
	var out []string
	for _, f := range fs {
		if !slices.Contains(out, f.kind) {
			out = append(out, f.kind)
		}
	}
	slices.Sort(out)
	return out
}

func succ(ids ...uint64) []ring.Server {
	out := make([]ring.Server, len(ids))
	for i, id := range ids {
		out[i] = ring.Server{Name: nameOf(id), Id: id}
	}
	return out
}

func TestCheckRingIdealHasNoFindings(t *testing.T) {
	for _, n := range []int{1, 2, 3, 9} {
		ids := make([]uint64, n)
		for i := range ids {
			ids[i] = uint64(10 * (i + 1))
		}
		if fs := checkRing(idealViews(ids, 4), 4); len(fs) != 0 {
			t.Errorf("n=%d: unexpected findings %v", n, fs)
		}
		if bad, err := idealPointers(idealViews(ids, 4), 4); bad != 0 {
			t.Errorf("n=%d: ideal ring judged not ideal: %v", n, err)
		}
	}
}

func TestCheckRingFindings(t *testing.T) {
	ids := []uint64{10, 20, 30, 40, 50, 60}
	cases := []struct {
		name   string
		mutate func(v []nodeView) []nodeView
		want   []string
	}{
		{"list out of order", func(v []nodeView) []nodeView {
			v[0].succs = succ(20, 40, 30)
			return v
		}, []string{kindOrderedSuccessors}},
		{"duplicate entry", func(v []nodeView) []nodeView {
			v[0].succs = succ(20, 20, 30)
			return v
		}, []string{kindOrderedSuccessors}},
		{"self in list", func(v []nodeView) []nodeView {
			v[1].succs = succ(30, 20)
			return v
		}, []string{kindOrderedSuccessors}},
		{"too long", func(v []nodeView) []nodeView {
			v[0].succs = succ(20, 30, 40, 50, 60)
			return v
		}, []string{kindOrderedSuccessors}},
		{"dead entries are skipped", func(v []nodeView) []nodeView {
			// 25 is not live: the best successor of 10 is still 20.
			v[0].succs = succ(15, 20, 30)
			return v
		}, nil},
		{"appendage", func(v []nodeView) []nodeView {
			// 20 skips 30: 30 points into the ring but nobody reaches it.
			v[1].succs = succ(40, 50)
			return v
		}, []string{kindOnRing}},
		{"two rings", func(v []nodeView) []nodeView {
			// 10 -> 30 -> 50 -> 10 and 20 -> 40 -> 60 -> 20.
			for i := range v {
				v[i].succs = succ(ids[(i+2)%6])
			}
			return v
		}, []string{kindMultipleRings}},
		{"ring that wraps twice", func(v []nodeView) []nodeView {
			// 10 -> 40 -> 20 -> 50 -> 30 -> 60 -> 10.
			next := map[uint64]uint64{10: 40, 40: 20, 20: 50, 50: 30, 30: 60, 60: 10}
			for i := range v {
				v[i].succs = succ(next[v[i].id])
			}
			return v
		}, []string{kindOrderedRing}},
		{"no live successor", func(v []nodeView) []nodeView {
			v[2].succs = succ(35)
			return v
		}, []string{kindLiveSuccessor, kindNoRing}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := kinds(checkRing(tc.mutate(idealViews(ids, 3)), 3))
			if !slices.Equal(got, tc.want) {
				t.Errorf("kinds %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckRingDeadEndIsReported(t *testing.T) {
	ids := []uint64{10, 20, 30, 40}
	v := idealViews(ids, 2)
	// 30 has no live successor, so every path dead-ends there and nothing
	// closes a cycle.
	v[2].succs = succ(35)
	got := kinds(checkRing(v, 2))
	want := []string{kindLiveSuccessor, kindNoRing}
	if !slices.Equal(got, want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
	// Once a cycle exists elsewhere, the dead-end chain is reach-ring.
	v = idealViews([]uint64{10, 20, 30, 40, 50}, 2)
	v[3].succs = succ(45) // 40 has no live successor
	v[2].succs = succ(40) // 30 -> 40, dead end
	v[1].succs = succ(50) // 20 -> 50 -> 10 -> 20 is the ring
	got = kinds(checkRing(v, 2))
	want = []string{kindLiveSuccessor, kindReachRing}
	if !slices.Equal(got, want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
}

func TestIdealPointersFindsEachDeparture(t *testing.T) {
	ids := []uint64{10, 20, 30, 40}
	cases := map[string]func(v []nodeView){
		"short list":      func(v []nodeView) { v[0].succs = v[0].succs[:1] },
		"wrong successor": func(v []nodeView) { v[0].succs = succ(30, 40) },
		"no predecessor":  func(v []nodeView) { v[1].hasPred = false },
		"wrong pred":      func(v []nodeView) { v[1].pred = ring.Server{Name: nameOf(40), Id: 40} },
		"overlap":         func(v []nodeView) { v[2].rng.Start = 10 },
		"not member":      func(v []nodeView) { v[3].member = false },
	}
	for name, mutate := range cases {
		v := idealViews(ids, 2)
		mutate(v)
		if bad, err := idealPointers(v, 2); bad == 0 || err == nil {
			t.Errorf("%s: not detected", name)
		}
	}
}

func TestIdealOwner(t *testing.T) {
	v := idealViews([]uint64{10, 20, 30}, 2)
	for id, want := range map[uint64]uint64{0: 10, 10: 10, 11: 20, 30: 30, 31: 10, ^uint64(0): 10} {
		if got := idealOwner(v, id); got != nameOf(want) {
			t.Errorf("owner of %d: %s, want %s", id, got, nameOf(want))
		}
	}
}
