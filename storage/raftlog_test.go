package storage

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/storage/storagepb"
)

// logChecker compares a RaftLog with raft.MemoryStorage, the reference
// model of raft.Storage semantics, after every operation.
type logChecker struct {
	t     *testing.T
	rng   *rand.Rand
	model *raft.MemoryStorage
	log   *RaftLog
}

func (c *logChecker) bounds() (first, last uint64) {
	c.t.Helper()
	mf, _ := c.model.FirstIndex()
	ml, _ := c.model.LastIndex()
	f, err := c.log.FirstIndex()
	if err != nil {
		c.t.Fatal(err)
	}
	l, err := c.log.LastIndex()
	if err != nil {
		c.t.Fatal(err)
	}
	if f != mf || l != ml {
		c.t.Fatalf("bounds = [%d, %d], model [%d, %d]", f, l, mf, ml)
	}
	return f, l
}

func (c *logChecker) check(step string) {
	c.t.Helper()
	first, last := c.bounds()
	// The boundaries and a sample of the indices between them.
	indices := []uint64{first - 1, last}
	for range 10 {
		indices = append(indices, first-1+c.rng.Uint64N(last-first+2))
	}
	for _, i := range indices {
		want, merr := c.model.Term(i)
		got, err := c.log.Term(i)
		if got != want || !errors.Is(err, merr) {
			c.t.Fatalf("%s: Term(%d) = %d, %v; model %d, %v", step, i, got, err, want, merr)
		}
	}
	if first >= 2 {
		if _, err := c.log.Term(first - 2); err != raft.ErrCompacted {
			c.t.Fatalf("%s: Term(%d) below the truncated index = %v, want ErrCompacted", step, first-2, err)
		}
		if _, err := c.log.Entries(first-1, last+1, math.MaxUint64); err != raft.ErrCompacted {
			c.t.Fatalf("%s: Entries(%d) = %v, want ErrCompacted", step, first-1, err)
		}
	}
	if _, err := c.log.Term(last + 1); err != raft.ErrUnavailable {
		c.t.Fatalf("%s: Term(last+1) = %v, want ErrUnavailable", step, err)
	}
	if last < first {
		return
	}
	for range 5 {
		lo := first + c.rng.Uint64N(last-first+1)
		hi := lo + 1 + c.rng.Uint64N(last+1-lo)
		maxSize := []uint64{0, 40, 200, 1000, math.MaxUint64}[c.rng.IntN(5)]
		want, merr := c.model.Entries(lo, hi, maxSize)
		got, err := c.log.Entries(lo, hi, maxSize)
		if err != nil || merr != nil {
			c.t.Fatalf("%s: Entries(%d, %d, %d) = %v; model %v", step, lo, hi, maxSize, err, merr)
		}
		if len(got) == 0 {
			c.t.Fatalf("%s: Entries(%d, %d, %d) returned nothing", step, lo, hi, maxSize)
		}
		if len(got) != len(want) {
			c.t.Fatalf("%s: Entries(%d, %d, %d) returned %d entries, model %d", step, lo, hi, maxSize, len(got), len(want))
		}
		for i := range got {
			if !proto.Equal(got[i], want[i]) {
				c.t.Fatalf("%s: Entries(%d, %d, %d)[%d] = %v, model %v", step, lo, hi, maxSize, i, got[i], want[i])
			}
		}
	}
}

// randomEntries returns entries [lo, lo+n) of the given term with payloads
// of varying size.
func (c *logChecker) randomEntries(lo uint64, n int, term uint64) []*raftpb.Entry {
	out := make([]*raftpb.Entry, n)
	for i := range out {
		idx := lo + uint64(i)
		data := fmt.Sprintf("i%d-t%d-%s", idx, term, strings.Repeat("x", c.rng.IntN(120)))
		out[i] = ent(idx, term, data)
	}
	return out
}

// TestRaftLogMatchesModel drives a RaftLog and raft.MemoryStorage with the
// same random appends (including conflicting tails and appends below the
// truncation point), truncations, mixed batches and restarts, and checks
// every raft.Storage method agrees after each step. Run with the entry
// cache off, tiny (constant eviction) and large.
func TestRaftLogMatchesModel(t *testing.T) {
	t.Parallel()
	for _, cacheSize := range []int64{-1, 2 << 10, 64 << 20} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("cache=%d/seed=%d", cacheSize, seed), func(t *testing.T) {
				t.Parallel()
				opts := Options{EntryCacheSize: cacheSize}
				e, _ := openMem(t, opts)
				l, err := e.RaftLog(7)
				if err != nil {
					t.Fatal(err)
				}
				c := &logChecker{t: t, rng: rand.New(rand.NewPCG(seed, 0)), model: raft.NewMemoryStorage(), log: l}
				term := uint64(1)
				for step := range 300 {
					first, last := c.bounds()
					name := fmt.Sprintf("step %d", step)
					switch op := c.rng.IntN(10); {
					case op < 6: // append, sometimes over a conflicting tail
						lo := last + 1
						if c.rng.IntN(3) == 0 && last > 0 {
							lo = max(1, first-min(first, 3)) + c.rng.Uint64N(last-max(1, first-min(first, 3))+2)
							term++
						}
						es := c.randomEntries(lo, 1+c.rng.IntN(8), term)
						name += fmt.Sprintf(" append [%d, %d] term %d", lo, lo+uint64(len(es))-1, term)
						b := e.NewBatch()
						if err := l.Append(b, es); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						commit(t, b, false)
						if err := c.model.Append(es); err != nil {
							t.Fatal(err)
						}
					case op < 8: // truncate
						if last < first {
							continue
						}
						idx := first - 1 + c.rng.Uint64N(last-first+2)
						name += fmt.Sprintf(" truncate %d", idx)
						b := e.NewBatch()
						if err := l.Truncate(b, idx); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						commit(t, b, false)
						if err := c.model.Compact(idx); err != nil && err != raft.ErrCompacted {
							t.Fatal(err)
						}
					case op < 9: // append then truncate inside it, one batch
						es := c.randomEntries(last+1, 4, term)
						idx := last + 2
						name += fmt.Sprintf(" append [%d, %d] and truncate %d in one batch", last+1, last+4, idx)
						b := e.NewBatch()
						if err := l.Append(b, es); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if err := l.Truncate(b, idx); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						commit(t, b, false)
						if err := c.model.Append(es); err != nil {
							t.Fatal(err)
						}
						if err := c.model.Compact(idx); err != nil {
							t.Fatal(err)
						}
					default:
						name += " restart"
						e = reopen(t, e, opts)
						if l, err = e.RaftLog(7); err != nil {
							t.Fatal(err)
						}
						c.log = l
					}
					c.check(name)
				}
			})
		}
	}
}

func TestRaftLogAppendRejectsGaps(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	l, _ := e.RaftLog(1)
	b := e.NewBatch()
	defer b.Close()
	if err := l.Append(b, ents(2, 3, 1)); !errors.Is(err, ErrLogGap) {
		t.Errorf("append after a gap = %v, want ErrLogGap", err)
	}
	if err := l.Append(b, []*raftpb.Entry{ent(1, 1, ""), ent(3, 1, "")}); !errors.Is(err, ErrLogGap) {
		t.Errorf("non-consecutive append = %v, want ErrLogGap", err)
	}
	if err := l.Truncate(b, 5); err == nil {
		t.Error("truncate beyond the last index succeeded")
	}
}

func TestRaftLogEntriesSizeLimit(t *testing.T) {
	t.Parallel()
	for _, cacheSize := range []int64{-1, 64 << 20} {
		e, _ := openMem(t, Options{EntryCacheSize: cacheSize})
		l, _ := e.RaftLog(1)
		b := e.NewBatch()
		es := ents(1, 10, 1)
		if err := l.Append(b, es); err != nil {
			t.Fatal(err)
		}
		commit(t, b, true)
		one := uint64(proto.Size(es[0]))
		for _, tc := range []struct {
			maxSize uint64
			want    int
		}{
			{0, 1},         // always at least one entry
			{one - 1, 1},   // even if it is larger than the limit
			{one, 1},       // exactly one fits
			{3*one + 1, 3}, // three fit, a fourth does not
			{math.MaxUint64, 10},
		} {
			got, err := l.Entries(1, 11, tc.maxSize)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("cache %d: Entries(1, 11, %d) returned %d entries, want %d", cacheSize, tc.maxSize, len(got), tc.want)
			}
			for i, g := range got {
				if g.GetIndex() != uint64(i+1) {
					t.Errorf("entry %d has index %d", i, g.GetIndex())
				}
			}
		}
	}
}

func TestRaftLogTruncationAndRestart(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	l, _ := e.RaftLog(3)
	b := e.NewBatch()
	_ = l.Append(b, ents(1, 5, 1))
	_ = l.Append(b, ents(6, 10, 2))
	commit(t, b, true)

	b = e.NewBatch()
	if err := l.Truncate(b, 6); err != nil {
		t.Fatal(err)
	}
	// Not committed yet: nothing changes.
	if f, _ := l.FirstIndex(); f != 1 {
		t.Fatalf("first index moved before commit: %d", f)
	}
	commit(t, b, true)
	check := func(l *RaftLog, when string) {
		t.Helper()
		if f, _ := l.FirstIndex(); f != 7 {
			t.Errorf("%s: FirstIndex = %d, want 7", when, f)
		}
		if last, _ := l.LastIndex(); last != 10 {
			t.Errorf("%s: LastIndex = %d, want 10", when, last)
		}
		if term, err := l.Term(6); err != nil || term != 2 {
			t.Errorf("%s: Term(6) of the truncated index = %d, %v; want 2", when, term, err)
		}
		if _, err := l.Term(5); err != raft.ErrCompacted {
			t.Errorf("%s: Term(5) = %v, want ErrCompacted", when, err)
		}
		if _, err := l.Entries(6, 8, math.MaxUint64); err != raft.ErrCompacted {
			t.Errorf("%s: Entries(6, 8) = %v, want ErrCompacted", when, err)
		}
		got, err := l.Entries(7, 11, math.MaxUint64)
		if err != nil || len(got) != 4 || got[0].GetIndex() != 7 || string(got[3].GetData()) != "e10-t2" {
			t.Errorf("%s: Entries(7, 11) = %v, %v", when, got, err)
		}
	}
	check(l, "after truncation")
	e = reopen(t, e, Options{})
	l, err := e.RaftLog(3)
	if err != nil {
		t.Fatal(err)
	}
	check(l, "after restart")
	// The truncated entries are gone from Pebble, not just hidden.
	span := LogSpan(3)
	if n := len(dump(t, e, span.Start, span.End)); n != 4 {
		t.Errorf("Pebble holds %d log entries, want 4", n)
	}
	// Truncating everything leaves an empty log that keeps its last index.
	b = e.NewBatch()
	if err := l.Truncate(b, 10); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)
	e = reopen(t, e, Options{})
	l, _ = e.RaftLog(3)
	if f, _ := l.FirstIndex(); f != 11 {
		t.Errorf("FirstIndex of an emptied log = %d, want 11", f)
	}
	if last, _ := l.LastIndex(); last != 10 {
		t.Errorf("LastIndex of an emptied log = %d, want 10", last)
	}
	if term, _ := l.Term(10); term != 2 {
		t.Errorf("Term(10) of an emptied log = %d, want 2", term)
	}
}

func TestRaftLogInitialStateAndSnapshot(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	l, _ := e.RaftLog(4)
	hs, cs, err := l.InitialState()
	if err != nil || !raft.IsEmptyHardState(hs) || len(cs.GetVoters()) != 0 {
		t.Fatalf("InitialState of a new range = %v, %v, %v", hs, cs, err)
	}
	if _, err := l.Snapshot(); err != raft.ErrSnapshotTemporarilyUnavailable {
		t.Fatalf("Snapshot without applied state = %v", err)
	}
	b := e.NewBatch()
	if err := l.SetHardState(b, hardState(5, 1, 9)); err != nil {
		t.Fatal(err)
	}
	if err := b.SetAppliedState(4, appliedState(t, descriptor(4, 10, 20), 9, 4, 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)
	hs, cs, err = l.InitialState()
	if err != nil || hs.GetTerm() != 5 || hs.GetVote() != 1 || hs.GetCommit() != 9 {
		t.Errorf("InitialState hard state = %v, %v", hs, err)
	}
	if fmt.Sprint(cs.GetVoters()) != "[1 2 3]" {
		t.Errorf("InitialState voters = %v", cs.GetVoters())
	}
	snap, err := l.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	m := snap.GetMetadata()
	if m.GetIndex() != 9 || m.GetTerm() != 4 || fmt.Sprint(m.GetConfState().GetVoters()) != "[1 2 3]" || len(snap.GetData()) != 0 {
		t.Errorf("Snapshot = %v", snap)
	}
	if got, ok, err := e.HardState(4); err != nil || !ok || got.GetTerm() != 5 {
		t.Errorf("HardState = %v, %v, %v", got, ok, err)
	}
}

// TestRaftLogDrivesRawNode runs a single-voter raft group on a RaftLog:
// bootstrapped at a non-zero index like a split's right half, proposing,
// persisting and applying, truncating, restarting and continuing.
func TestRaftLogDrivesRawNode(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	const rangeID = 9
	d := descriptor(rangeID, 100, 200)
	b := e.NewBatch()
	if err := WriteInitialState(b, rangeID, appliedState(t, d, 10, 5, 1), hardState(5, 0, 10),
		&storagepb.TruncatedState{Index: 10, Term: 5}); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)

	var applied []string
	start := func() (*raft.RawNode, *RaftLog) {
		l, err := e.RaftLog(rangeID)
		if err != nil {
			t.Fatal(err)
		}
		as, _, err := e.AppliedState(rangeID)
		if err != nil {
			t.Fatal(err)
		}
		rn, err := raft.NewRawNode(&raft.Config{
			ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: l, Applied: as.GetIndex(),
			MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16,
			Logger: &raft.DefaultLogger{Logger: discardLog()},
		})
		if err != nil {
			t.Fatal(err)
		}
		return rn, l
	}
	// drain handles Ready until there is none: persist, apply, advance.
	drain := func(rn *raft.RawNode, l *RaftLog) {
		for rn.HasReady() {
			rd := rn.Ready()
			b := e.NewBatch()
			if err := l.Append(b, rd.Entries); err != nil {
				t.Fatal(err)
			}
			if !raft.IsEmptyHardState(rd.HardState) {
				if err := l.SetHardState(b, rd.HardState); err != nil {
					t.Fatal(err)
				}
			}
			commit(t, b, true)
			if n := len(rd.CommittedEntries); n > 0 {
				b := e.NewBatch()
				as, _, _ := e.AppliedState(rangeID)
				for _, ce := range rd.CommittedEntries {
					if len(ce.GetData()) > 0 {
						applied = append(applied, string(ce.GetData()))
					}
				}
				last := rd.CommittedEntries[n-1]
				as.Index, as.Term = last.GetIndex(), last.GetTerm()
				if err := b.SetAppliedState(rangeID, as); err != nil {
					t.Fatal(err)
				}
				commit(t, b, false)
			}
			rn.Advance(rd)
		}
	}
	rn, l := start()
	if err := rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	drain(rn, l)
	for i := range 20 {
		if err := rn.Propose([]byte(fmt.Sprintf("p%d", i))); err != nil {
			t.Fatal(err)
		}
		drain(rn, l)
	}
	if len(applied) != 20 {
		t.Fatalf("applied %d proposals, want 20", len(applied))
	}
	as, _, _ := e.AppliedState(rangeID)
	b = e.NewBatch()
	if err := l.Truncate(b, as.GetIndex()-5); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)

	e = reopen(t, e, Options{})
	rn, l = start()
	if err := rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	drain(rn, l)
	if err := rn.Propose([]byte("after restart")); err != nil {
		t.Fatal(err)
	}
	drain(rn, l)
	if got := applied[len(applied)-1]; got != "after restart" {
		t.Errorf("last applied = %q", got)
	}
	if st := rn.Status(); st.RaftState != raft.StateLeader || st.Applied != st.GetCommit() {
		t.Errorf("status after restart = %v applied %d commit %d", st.RaftState, st.Applied, st.GetCommit())
	}
}
