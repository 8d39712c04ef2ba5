package storage

import (
	"container/list"
	"sync"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// entryOverhead approximates the memory of a cached entry beyond its
// encoded size (the message struct and the slot that points to it).
const entryOverhead = 96

// entryCache keeps recently appended Raft entries of every range in
// memory, within one node-wide byte budget, so that leaders replicate and
// apply from memory instead of reading Pebble.
//
// Invariants: each range's cached entries are consecutive (ents[i] has
// index ents[0].Index+i) and are exactly what is committed in Pebble at
// those indices; the cache is only changed after the batch that wrote the
// entries committed. size <= budget after every operation. Eviction drops
// the oldest entries of the least recently used range first: lagging
// followers and idle ranges lose their cache before busy leaders do.
type entryCache struct {
	mu     sync.Mutex
	budget int64
	size   int64
	ranges map[uint64]*cachedLog
	lru    list.List // of *cachedLog, most recently used at the front
}

type cachedLog struct {
	rangeID uint64
	ents    []cachedEntry
	elem    *list.Element
}

type cachedEntry struct {
	e    *raftpb.Entry
	size int64
}

func newEntryCache(budget int64) *entryCache {
	return &entryCache{budget: budget, ranges: make(map[uint64]*cachedLog)}
}

func (c *entryCache) touch(r *cachedLog) {
	c.lru.MoveToFront(r.elem)
}

// add records ents (consecutive, just committed) as the newest entries of
// a range's log. Cached entries at or after ents[0]'s index were replaced
// by a conflicting append and are dropped; a cache that would not be
// consecutive with ents is replaced.
func (c *entryCache) add(rangeID uint64, ents []*raftpb.Entry) {
	if c.budget <= 0 || len(ents) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.ranges[rangeID]
	if r == nil {
		r = &cachedLog{rangeID: rangeID}
		r.elem = c.lru.PushFront(r)
		c.ranges[rangeID] = r
	}
	first := ents[0].GetIndex()
	if n := len(r.ents); n > 0 {
		lo := r.ents[0].e.GetIndex()
		hi := lo + uint64(n) // one past the last cached index
		switch {
		case first < lo || first > hi:
			c.dropFrom(r, 0)
		case first < hi:
			c.dropFrom(r, int(first-lo))
		}
	}
	for _, e := range ents {
		s := int64(proto.Size(e)) + entryOverhead
		r.ents = append(r.ents, cachedEntry{e: e, size: s})
		c.size += s
	}
	c.touch(r)
	c.evict()
}

// dropFrom removes r's entries at positions i and later.
func (c *entryCache) dropFrom(r *cachedLog, i int) {
	for j := i; j < len(r.ents); j++ {
		c.size -= r.ents[j].size
		r.ents[j] = cachedEntry{}
	}
	r.ents = r.ents[:i]
}

// dropFront removes r's first n entries.
func (c *entryCache) dropFront(r *cachedLog, n int) {
	for j := 0; j < n; j++ {
		c.size -= r.ents[j].size
		r.ents[j] = cachedEntry{}
	}
	r.ents = r.ents[n:]
	if len(r.ents) == 0 {
		r.ents = nil // release the backing array
	}
}

// evict drops the oldest entries of the least recently used ranges until
// the cache fits its budget.
func (c *entryCache) evict() {
	for c.size > c.budget {
		back := c.lru.Back()
		if back == nil {
			return
		}
		r := back.Value.(*cachedLog)
		n, freed := 0, int64(0)
		for n < len(r.ents) && c.size-freed > c.budget {
			freed += r.ents[n].size
			n++
		}
		c.dropFront(r, n)
		if len(r.ents) == 0 {
			c.remove(r)
		}
	}
}

func (c *entryCache) remove(r *cachedLog) {
	c.dropFrom(r, 0)
	c.lru.Remove(r.elem)
	delete(c.ranges, r.rangeID)
}

// truncateFront drops a range's cached entries at or below index.
func (c *entryCache) truncateFront(rangeID, index uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.ranges[rangeID]
	if r == nil || len(r.ents) == 0 {
		return
	}
	lo := r.ents[0].e.GetIndex()
	if index < lo {
		return
	}
	n := min(int(index-lo+1), len(r.ents))
	c.dropFront(r, n)
	if len(r.ents) == 0 {
		c.remove(r)
	}
}

// drop forgets every cached entry of a range.
func (c *entryCache) drop(rangeID uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.ranges[rangeID]; r != nil {
		c.remove(r)
	}
}

// fill appends to acc the cached entries of a range starting exactly at
// index lo and below hi, until acc is full. It returns how many it appended
// and, when lo itself is not cached, the first cached index above lo (0 if
// none) so the caller knows how far to read Pebble before trying again.
func (c *entryCache) fill(rangeID, lo, hi uint64, acc *entryAccumulator) (n uint64, nextCached uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.ranges[rangeID]
	if r == nil || len(r.ents) == 0 {
		return 0, 0
	}
	c.touch(r)
	first := r.ents[0].e.GetIndex()
	end := first + uint64(len(r.ents))
	if lo < first {
		return 0, first
	}
	for i := lo; i < hi && i < end; i++ {
		ce := r.ents[i-first]
		if !acc.add(ce.e, ce.size-entryOverhead) {
			break
		}
		n++
	}
	return n, 0
}

// term returns the term of the cached entry at index, if cached.
func (c *entryCache) term(rangeID, index uint64) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.ranges[rangeID]
	if r == nil || len(r.ents) == 0 {
		return 0, false
	}
	first := r.ents[0].e.GetIndex()
	if index < first || index >= first+uint64(len(r.ents)) {
		return 0, false
	}
	return r.ents[index-first].e.GetTerm(), true
}

// stats returns the cache's byte size and how many entries of a range it
// holds; for tests and metrics.
func (c *entryCache) stats(rangeID uint64) (size int64, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.ranges[rangeID]; r != nil {
		entries = len(r.ents)
	}
	return c.size, entries
}

// entryAccumulator collects entries for raft.Storage.Entries under raft's
// size rule: the total encoded size stays within max, except that the
// first entry is always taken.
type entryAccumulator struct {
	ents []*raftpb.Entry
	size uint64
	max  uint64
	full bool
}

// fits reports whether an entry of the given encoded size may be added.
func (a *entryAccumulator) fits(size int64) bool {
	return !a.full && (len(a.ents) == 0 || a.size+uint64(size) <= a.max)
}

// add appends e of the given encoded size if it fits; otherwise it marks
// the accumulator full and returns false.
func (a *entryAccumulator) add(e *raftpb.Entry, size int64) bool {
	if !a.fits(size) {
		a.full = true
		return false
	}
	a.ents = append(a.ents, e)
	a.size += uint64(size)
	return true
}
