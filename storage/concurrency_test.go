package storage

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"go.etcd.io/raft/v3"
)

// TestRaftLogConcurrentReadsDuringWrites reads logs (as raft does, under a
// replica lock) while another goroutine appends and truncates them through
// committed batches, with a small cache that evicts constantly. Every read
// must be a consistent prefix of the requested span or raft.ErrCompacted
// for a racing truncation; run it with -race.
func TestRaftLogConcurrentReadsDuringWrites(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{EntryCacheSize: 4 << 10})
	const nRanges, rounds = 3, 300
	logs := make([]*RaftLog, nRanges)
	for i := range logs {
		logs[i], _ = e.RaftLog(uint64(i + 1))
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(1)
	go func() { // the writer
		defer wg.Done()
		defer done.Store(true)
		for i := uint64(1); i <= rounds; i++ {
			b := e.NewBatch()
			for _, l := range logs {
				if err := l.Append(b, ents(i, i, 1)); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					if err := l.Truncate(b, i-8); err != nil {
						errs <- err
						return
					}
				}
			}
			if err := b.Commit(false); err != nil {
				errs <- err
				return
			}
		}
	}()
	for r := range 2 {
		wg.Add(1)
		go func() { // a reader
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for !done.Load() {
				l := logs[rng.IntN(nRanges)]
				first, _ := l.FirstIndex()
				last, _ := l.LastIndex()
				if last < first {
					continue
				}
				lo := first + rng.Uint64N(last-first+1)
				hi := lo + 1 + rng.Uint64N(last+1-lo)
				got, err := l.Entries(lo, hi, math.MaxUint64)
				if err == raft.ErrCompacted {
					continue
				}
				if err == nil && len(got) != int(hi-lo) {
					err = fmt.Errorf("Entries(%d, %d) returned %d entries", lo, hi, len(got))
				}
				for i, g := range got {
					if err == nil && (g.GetIndex() != lo+uint64(i) || string(g.GetData()) != fmt.Sprintf("e%d-t1", lo+uint64(i))) {
						err = fmt.Errorf("Entries(%d, %d)[%d] = index %d %q", lo, hi, i, g.GetIndex(), g.GetData())
					}
				}
				if err == nil {
					if term, terr := l.Term(lo); terr != nil && terr != raft.ErrCompacted {
						err = terr
					} else if terr == nil && term != 1 {
						err = fmt.Errorf("Term(%d) = %d", lo, term)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, l := range logs {
		if first, _ := l.FirstIndex(); first != rounds-7 {
			t.Errorf("range %d: first index %d, want %d", l.RangeID(), first, rounds-7)
		}
	}
}
