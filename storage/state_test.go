package storage

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/concord-kv/concord/storage/storagepb"
)

func TestConfStateRoundTrip(t *testing.T) {
	t.Parallel()
	cs, err := DecodeConfState(nil)
	if err != nil || cs == nil || len(cs.GetVoters()) != 0 {
		t.Fatalf("DecodeConfState(nil) = %v, %v", cs, err)
	}
	as := appliedState(t, descriptor(1, 0, 0), 1, 1, 4, 5)
	cs, err = DecodeConfState(as.GetConfState())
	if err != nil || fmt.Sprint(cs.GetVoters()) != "[4 5]" {
		t.Errorf("round trip = %v, %v", cs, err)
	}
	if _, err := DecodeConfState([]byte{0xff}); err == nil {
		t.Error("DecodeConfState accepted garbage")
	}
}

func TestRangeIDsAfterRestart(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	b := e.NewBatch()
	// Initialized ranges 3 and MaxUint64, an uninitialized range 8 (hard
	// state only), and range 5 destroyed below.
	for _, id := range []uint64{3, 5, math.MaxUint64} {
		if err := WriteInitialState(b, id, appliedState(t, descriptor(id, id, id+1), 10, 5, 1), hardState(5, 0, 10),
			&storagepb.TruncatedState{Index: 10, Term: 5}); err != nil {
			t.Fatal(err)
		}
	}
	l8, _ := e.RaftLog(8)
	if err := l8.SetHardState(b, hardState(2, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(NodeKey("identity"), []byte("n1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(UserKey(4, []byte("k")), []byte("v")); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)
	b = e.NewBatch()
	if err := e.DestroyRange(b, descriptor(5, 5, 6)); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)

	e = reopen(t, e, Options{})
	ids, err := e.RangeIDs()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(ids), fmt.Sprint([]uint64{3, 8, math.MaxUint64}); got != want {
		t.Errorf("RangeIDs = %v, want %v", got, want)
	}
	if _, ok, _ := e.AppliedState(8); ok {
		t.Error("uninitialized range has an applied state")
	}
	if s, ok, err := e.AppliedState(3); err != nil || !ok || s.GetDescriptor_().GetRangeId() != 3 {
		t.Errorf("AppliedState(3) = %v, %v, %v", s, ok, err)
	}
}

func TestDestroyRangeLeavesOtherRangesIntact(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	// Three adjacent ranges; the middle one, (100, 200], is destroyed. Range
	// 1 wraps past zero: (200, 100].
	type rng struct {
		id         uint64
		start, end uint64
		positions  []uint64
	}
	ranges := []rng{
		{1, 200, 50, []uint64{201, math.MaxUint64, 0, 50}},
		{2, 100, 200, []uint64{101, 150, 200}},
		{3, 50, 100, []uint64{51, 100}},
	}
	b := e.NewBatch()
	logs := map[uint64]*RaftLog{}
	for _, r := range ranges {
		d := descriptor(r.id, r.start, r.end)
		if err := WriteInitialState(b, r.id, appliedState(t, d, 10, 5, 1), hardState(5, 0, 10),
			&storagepb.TruncatedState{Index: 10, Term: 5}); err != nil {
			t.Fatal(err)
		}
		for _, p := range r.positions {
			if err := b.Set(UserKey(p, []byte("k")), []byte(fmt.Sprint(r.id))); err != nil {
				t.Fatal(err)
			}
		}
	}
	commit(t, b, true)
	b = e.NewBatch()
	for _, r := range ranges {
		l, err := e.RaftLog(r.id)
		if err != nil {
			t.Fatal(err)
		}
		logs[r.id] = l
		if err := l.Append(b, ents(11, 20, 6)); err != nil {
			t.Fatal(err)
		}
	}
	commit(t, b, true)

	b = e.NewBatch()
	if err := e.DestroyRange(b, descriptor(2, 100, 200)); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)

	for _, r := range ranges {
		local := RangeLocalSpan(r.id)
		n := len(dump(t, e, local.Start, local.End))
		if r.id == 2 {
			if n != 0 {
				t.Errorf("destroyed range keeps %d range-local keys", n)
			}
		} else if n != 3+10 {
			t.Errorf("range %d has %d range-local keys, want 13", r.id, n)
		}
		for _, p := range r.positions {
			v, ok := mustGet(t, e.Get, UserKey(p, []byte("k")))
			if r.id == 2 && ok {
				t.Errorf("destroyed range's key at %d survived", p)
			}
			if r.id != 2 && (!ok || v != fmt.Sprint(r.id)) {
				t.Errorf("range %d lost its key at %d", r.id, p)
			}
		}
		if r.id != 2 {
			got, err := logs[r.id].Entries(11, 21, math.MaxUint64)
			if err != nil || len(got) != 10 {
				t.Errorf("range %d log after a neighbour's destruction: %d entries, %v", r.id, len(got), err)
			}
		}
	}
	// The destroyed range's log is retired; a new one starts empty.
	b = e.NewBatch()
	defer b.Close()
	if err := logs[2].Append(b, ents(21, 21, 6)); !errors.Is(err, ErrDestroyed) {
		t.Errorf("Append to a destroyed log = %v, want ErrDestroyed", err)
	}
	if _, entries := e.cache.stats(2); entries != 0 {
		t.Errorf("destroyed range keeps %d cached entries", entries)
	}
	l2, err := e.RaftLog(2)
	if err != nil || l2 == logs[2] {
		t.Fatalf("RaftLog after destroy = %p (old %p), %v", l2, logs[2], err)
	}
	if last, _ := l2.LastIndex(); last != 0 {
		t.Errorf("recreated range's last index = %d, want 0", last)
	}
}

// TestWriteInitialStateResetsOpenLog covers the right half of a split
// landing on a node where the range already exists uninitialized (created
// by a Raft message): its open log must move to the new truncation point
// and its vote must survive when no hard state is given.
func TestWriteInitialStateResetsOpenLog(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	l, _ := e.RaftLog(6)
	b := e.NewBatch()
	if err := l.SetHardState(b, hardState(7, 3, 0)); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)
	if same, _ := e.RaftLog(6); same != l {
		t.Fatal("RaftLog returned a second log for an open range")
	}

	b = e.NewBatch()
	if err := WriteInitialState(b, 6, appliedState(t, descriptor(6, 1, 2), 10, 5, 1), nil,
		&storagepb.TruncatedState{Index: 10, Term: 5}); err != nil {
		t.Fatal(err)
	}
	if f, _ := l.FirstIndex(); f != 1 {
		t.Fatalf("first index moved before commit: %d", f)
	}
	commit(t, b, true)
	if f, _ := l.FirstIndex(); f != 11 {
		t.Errorf("FirstIndex = %d, want 11", f)
	}
	if last, _ := l.LastIndex(); last != 10 {
		t.Errorf("LastIndex = %d, want 10", last)
	}
	if term, err := l.Term(10); err != nil || term != 5 {
		t.Errorf("Term(10) = %d, %v; want 5", term, err)
	}
	hs, _, err := l.InitialState()
	if err != nil || hs.GetTerm() != 7 || hs.GetVote() != 3 {
		t.Errorf("hard state = %v, %v; want the earlier vote kept", hs, err)
	}
	// The log continues after the truncation point.
	b = e.NewBatch()
	if err := l.Append(b, ents(11, 12, 7)); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)
	if got, err := l.Entries(11, 13, math.MaxUint64); err != nil || len(got) != 2 {
		t.Errorf("Entries after initial state = %v, %v", got, err)
	}
}
