package router

import (
	"sort"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage/storagepb"
)

// entry is one cached range: its descriptor and who leads it, as last
// heard. The descriptor is never modified once cached.
type entry struct {
	desc *storagepb.RangeDescriptor
	// leader is the node believed to lead the range; empty when unknown.
	// It is always a replica of desc.
	leader string
}

// cache holds the descriptors this node has learned, ordered by range end.
//
// Invariant: the cached arcs are pairwise disjoint, so the entry holding a
// position is the one with the smallest end at or after it, wrapping to the
// smallest end overall (see lookup). A descriptor replaces the entries it
// overlaps only if its generation is at least theirs: splits and merges
// raise the generation above that of every range they consume, so a newer
// view of any position always wins and an older one is ignored.
type cache struct {
	mu      sync.RWMutex
	entries []entry // sorted by desc.End
}

func arcOf(d *storagepb.RangeDescriptor) kv.Arc {
	return kv.Arc{Start: d.GetStart(), End: d.GetEnd()}
}

// lookup returns the cached range holding position pos.
func (c *cache) lookup(pos uint64) (entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.entries)
	if n == 0 {
		return entry{}, false
	}
	i := sort.Search(n, func(i int) bool { return c.entries[i].desc.GetEnd() >= pos })
	if i == n {
		// Past every end: only an arc that wraps through zero, which has
		// the smallest end, can hold pos.
		i = 0
	}
	if e := c.entries[i]; arcOf(e.desc).Contains(pos) {
		return e, true
	}
	return entry{}, false
}

// byID returns the cached range with id rangeID.
func (c *cache) byID(rangeID uint64) (entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range c.entries {
		if e.desc.GetRangeId() == rangeID {
			return e, true
		}
	}
	return entry{}, false
}

// update caches d with leader hint leader (empty: keep the known one),
// replacing the entries it overlaps, unless one of them has a newer
// generation. It reports whether the cache's view of the ring changed: d
// was cached and was not already, at its generation.
func (c *cache) update(d *storagepb.RangeDescriptor, leader string) bool {
	if d == nil || d.GetRangeId() == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	arc := arcOf(d)
	keepLeader := ""
	known, others := false, false
	kept := make([]entry, 0, len(c.entries)+1)
	for _, e := range c.entries {
		same := e.desc.GetRangeId() == d.GetRangeId()
		if !same && !arc.Overlaps(arcOf(e.desc)) {
			kept = append(kept, e)
			continue
		}
		if e.desc.GetGeneration() > d.GetGeneration() {
			return false
		}
		if same {
			keepLeader = e.leader
			known = e.desc.GetGeneration() == d.GetGeneration()
		} else {
			others = true
		}
	}
	if leader == "" {
		leader = keepLeader
	}
	if !hasReplica(d, leader) {
		leader = ""
	}
	ne := entry{desc: proto.Clone(d).(*storagepb.RangeDescriptor), leader: leader}
	i := sort.Search(len(kept), func(i int) bool { return kept[i].desc.GetEnd() >= d.GetEnd() })
	kept = append(kept, entry{})
	copy(kept[i+1:], kept[i:])
	kept[i] = ne
	c.entries = kept
	return !known || others
}

// setLeader records leader as the leader of rangeID, if it is cached and
// leader is one of its replicas.
func (c *cache) setLeader(rangeID uint64, leader string) {
	c.edit(rangeID, func(e *entry) bool {
		if leader == "" || e.leader == leader || !hasReplica(e.desc, leader) {
			return false
		}
		e.leader = leader
		return true
	})
}

// dropLeader forgets that node leads rangeID.
func (c *cache) dropLeader(rangeID uint64, node string) {
	c.edit(rangeID, func(e *entry) bool {
		if e.leader != node {
			return false
		}
		e.leader = ""
		return true
	})
}

// edit applies fn to the entry of rangeID, if cached, under the lock.
func (c *cache) edit(rangeID uint64, fn func(*entry) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.entries {
		if c.entries[i].desc.GetRangeId() == rangeID {
			fn(&c.entries[i])
			return
		}
	}
}

// drop forgets rangeID.
func (c *cache) drop(rangeID uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.desc.GetRangeId() == rangeID {
			c.entries = append(c.entries[:i:i], c.entries[i+1:]...)
			return
		}
	}
}

// descriptors returns copies of the cached descriptors in end order.
func (c *cache) descriptors() []*storagepb.RangeDescriptor {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*storagepb.RangeDescriptor, len(c.entries))
	for i, e := range c.entries {
		out[i] = proto.Clone(e.desc).(*storagepb.RangeDescriptor)
	}
	return out
}

// hasReplica reports whether node holds a replica of d.
func hasReplica(d *storagepb.RangeDescriptor, node string) bool {
	if node == "" {
		return false
	}
	for _, r := range d.GetReplicas() {
		if r.GetNode() == node {
			return true
		}
	}
	return false
}
