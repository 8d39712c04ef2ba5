package storage

import (
	"bytes"
	"math"
	"testing"
)

// inArc is the reference model of the arc (start, end] on the circle.
func inArc(pos, start, end uint64) bool {
	switch {
	case start == end:
		return true
	case start < end:
		return pos > start && pos <= end
	default:
		return pos > start || pos <= end
	}
}

func inSpans(k []byte, spans []Span) bool {
	for _, s := range spans {
		if bytes.Compare(k, s.Start) >= 0 && bytes.Compare(k, s.End) < 0 {
			return true
		}
	}
	return false
}

func TestUserSpansMatchArc(t *testing.T) {
	points := []uint64{0, 1, 2, 100, 1 << 32, math.MaxUint64 - 1, math.MaxUint64}
	for _, start := range points {
		for _, end := range points {
			spans := UserSpans(start, end)
			for i := 1; i < len(spans); i++ {
				if bytes.Compare(spans[i-1].End, spans[i].Start) > 0 {
					t.Fatalf("(%d, %d]: spans out of order: %q", start, end, spans)
				}
			}
			for _, pos := range points {
				for _, key := range [][]byte{nil, []byte("a"), {0xff, 0xff}} {
					k := UserKey(pos, key)
					if got, want := inSpans(k, spans), inArc(pos, start, end); got != want {
						t.Errorf("(%d, %d]: position %d key %q in spans = %v, want %v", start, end, pos, key, got, want)
					}
				}
			}
		}
	}
}

func TestKeyKindsDoNotOverlap(t *testing.T) {
	node := NodeKey("identity")
	local := RangeLocalSpan(7)
	user := UserKey(0, nil)
	if bytes.Compare(node, local.Start) >= 0 || bytes.Compare(local.End, user) > 0 {
		t.Fatalf("kinds out of order: node %q, range %q, user %q", node, local, user)
	}
	for _, k := range [][]byte{AppliedStateKey(7), HardStateKey(7), TruncatedStateKey(7), LogKey(7, 0), LogKey(7, math.MaxUint64)} {
		if !inSpans(k, []Span{local}) {
			t.Errorf("key %q outside its range-local span %q", k, local)
		}
		if id, _, ok := DecodeRangeLocalKey(k); !ok || id != 7 {
			t.Errorf("DecodeRangeLocalKey(%q) = %d, %v", k, id, ok)
		}
	}
	log := LogSpan(7)
	for _, k := range [][]byte{AppliedStateKey(7), HardStateKey(7), TruncatedStateKey(7)} {
		if inSpans(k, []Span{log}) {
			t.Errorf("state key %q inside the log span", k)
		}
	}
	if inSpans(LogKey(8, 0), []Span{local}) || inSpans(LogKey(6, math.MaxUint64), []Span{local}) {
		t.Error("a neighbouring range's log falls inside range 7's span")
	}
	pos, key, ok := DecodeUserKey(UserKey(42, []byte("k")))
	if !ok || pos != 42 || string(key) != "k" {
		t.Errorf("DecodeUserKey round trip = %d %q %v", pos, key, ok)
	}
}

func TestArcStatsCountsOnlyTheArc(t *testing.T) {
	e, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b := e.NewBatch()
	for _, pos := range []uint64{5, 10, 20, math.MaxUint64} {
		if err := b.Set(UserKey(pos, []byte("k")), []byte("vv")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	keys, bytes, complete, err := e.ArcStats(5, 20, 100)
	if err != nil || keys != 2 || bytes != 2*(9+1+2) || !complete {
		t.Fatalf("ArcStats(5, 20] = %d keys, %d bytes, complete %v, %v", keys, bytes, complete, err)
	}
	// Wrapping arc (10, 5]: positions 20, max, 5.
	if keys, _, _, _ := e.ArcStats(10, 5, 100); keys != 3 {
		t.Fatalf("ArcStats(10, 5] = %d keys, want 3", keys)
	}
	if keys, _, complete, _ := e.ArcStats(0, 0, 2); keys != 2 || complete {
		t.Fatalf("limited ArcStats = %d keys, complete %v", keys, complete)
	}
}
