package ringsim

import (
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	h := newHistory()
	// a(10) and c(30) are stable; b(20) joins from 5 to 6; d(40) crashes at 8.
	for _, n := range []struct {
		name string
		id   uint64
	}{{"a", 10}, {"c", 30}, {"d", 40}} {
		h.begin(n.name, n.id, at(0))
		h.joined(n.name, at(1))
	}
	h.begin("b", 20, at(5))
	h.joined("b", at(6))
	h.crashed("d", at(8))

	cases := []struct {
		name       string
		id         uint64
		owner      string
		start, end int
		want       verdict
	}{
		{"stable owner", 15, "c", 2, 3, answerRight},
		{"joiner not yet there", 15, "b", 2, 3, answerDead},
		{"old owner while b joins", 15, "c", 4, 7, answerRight},
		{"new owner while b joins", 15, "b", 4, 7, answerRight},
		{"old owner after join", 15, "c", 7, 8, answerMisrouted},
		{"key at a node id", 30, "c", 7, 8, answerRight},
		{"crashed owner during crash", 35, "d", 7, 9, answerRight},
		{"successor of crashed owner during crash", 35, "a", 7, 9, answerRight},
		{"crashed owner after crash", 35, "d", 9, 10, answerDead},
		{"wrap past zero", 45, "a", 9, 10, answerRight},
		{"unknown node", 45, "zz", 9, 10, answerDead},
	}
	for _, tc := range cases {
		if got := h.judge(tc.id, tc.owner, at(tc.start), at(tc.end)); got != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, got, tc.want)
		}
	}
}
