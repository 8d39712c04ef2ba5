package storage

import (
	"fmt"
	"math"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestEntryCacheReplacesConflictingTail(t *testing.T) {
	t.Parallel()
	c := newEntryCache(1 << 20)
	c.add(1, ents(5, 10, 1))
	c.add(1, ents(8, 9, 2)) // conflict: 8..10 replaced by 8..9
	acc := entryAccumulator{max: math.MaxUint64}
	n, _ := c.fill(1, 5, 11, &acc)
	if n != 5 {
		t.Fatalf("cached entries after conflicting append = %d, want 5 (5..9)", n)
	}
	if acc.ents[3].GetTerm() != 2 || acc.ents[4].GetIndex() != 9 {
		t.Errorf("cache holds %v", acc.ents)
	}
	c.add(1, ents(20, 20, 3)) // not consecutive: replaces the cache
	if _, cnt := c.stats(1); cnt != 1 {
		t.Errorf("cache kept %d entries across a gap", cnt)
	}
	if n, next := c.fill(1, 5, 21, &entryAccumulator{max: math.MaxUint64}); n != 0 || next != 20 {
		t.Errorf("fill below the cache = %d, next %d; want 0, 20", n, next)
	}
	c.truncateFront(1, 20)
	if size, cnt := c.stats(1); cnt != 0 || size != 0 {
		t.Errorf("after truncation: %d entries, %d bytes", cnt, size)
	}
}

// TestEntryCacheEvictionStaysCorrect appends to many ranges through a
// cache far smaller than their logs: the cache must stay within its budget,
// evict the least recently used ranges first, and every read must still
// return the right entries, from Pebble where the cache lost them.
func TestEntryCacheEvictionStaysCorrect(t *testing.T) {
	t.Parallel()
	const budget = 1 << 10
	e, _ := openMem(t, Options{EntryCacheSize: budget})
	const ranges, perRange = 8, 60
	logs := make([]*RaftLog, ranges)
	for r := range logs {
		logs[r], _ = e.RaftLog(uint64(r + 1))
	}
	for i := uint64(1); i <= perRange; i += 5 {
		b := e.NewBatch()
		for r, l := range logs {
			if err := l.Append(b, ents(i, i+4, uint64(r+1))); err != nil {
				t.Fatal(err)
			}
		}
		commit(t, b, false)
		if size, _ := e.cache.stats(0); size > budget {
			t.Fatalf("cache holds %d bytes, over its budget %d", size, budget)
		}
	}
	// Everything appended is far more than the budget: most entries were
	// evicted, yet the last range appended keeps its newest entries.
	one := int64(proto.Size(ents(1, 1, 1)[0]) + entryOverhead)
	if int64(ranges*perRange)*one < 4*budget {
		t.Fatalf("test appends too little to force eviction")
	}
	if _, cnt := e.cache.stats(uint64(ranges)); cnt == 0 {
		t.Error("the most recently appended range has nothing cached")
	}
	if _, cnt := e.cache.stats(1); cnt != 0 {
		t.Errorf("the least recently used range keeps %d cached entries", cnt)
	}
	for r, l := range logs {
		got, err := l.Entries(1, perRange+1, math.MaxUint64)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != perRange {
			t.Fatalf("range %d: %d entries, want %d", r+1, len(got), perRange)
		}
		for i, g := range got {
			if want := fmt.Sprintf("e%d-t%d", i+1, r+1); g.GetIndex() != uint64(i+1) || string(g.GetData()) != want {
				t.Fatalf("range %d entry %d = %d %q, want %q", r+1, i, g.GetIndex(), g.GetData(), want)
			}
		}
		for i := uint64(1); i <= perRange; i++ {
			if term, err := l.Term(i); err != nil || term != uint64(r+1) {
				t.Fatalf("range %d: Term(%d) = %d, %v", r+1, i, term, err)
			}
		}
	}
	// A single entry larger than the budget is simply not cached.
	b := e.NewBatch()
	big := ent(perRange+1, 9, string(make([]byte, 2*budget)))
	if err := logs[0].Append(b, []*raftpb.Entry{big}); err != nil {
		t.Fatal(err)
	}
	commit(t, b, false)
	if size, _ := e.cache.stats(0); size > budget {
		t.Errorf("cache holds %d bytes after a huge entry", size)
	}
	if got, err := logs[0].Entries(perRange+1, perRange+2, 0); err != nil || len(got) != 1 || len(got[0].GetData()) != 2*budget {
		t.Errorf("huge entry read back = %v", err)
	}
}
