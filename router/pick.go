package router

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/storage/storagepb"
)

// target is where one attempt of an op goes.
type target struct {
	node string
	// rangeID is the range the node should serve the op from; 0 lets the
	// node pick its replica holding the op's position.
	rangeID uint64
	// desc is the cached descriptor of rangeID the choice rests on (nil
	// when the ring chose).
	desc *storagepb.RangeDescriptor
}

// lookup finds the range holding pos: in the cache, else among this
// node's own replicas (whose descriptors it then caches).
func (r *Router) lookup(pos uint64) (entry, bool) {
	if e, ok := r.cache.lookup(pos); ok {
		r.metrics.cache.WithLabelValues(cacheHit).Inc()
		return e, true
	}
	r.metrics.cache.WithLabelValues(cacheMiss).Inc()
	if st := r.cfg.Store; st != nil {
		if info, ok := st.RangeFor(pos); ok && info.Descriptor != nil {
			r.cache.update(info.Descriptor, info.Leader)
			return r.cache.lookup(pos)
		}
	}
	return entry{}, false
}

// pick chooses the next attempt's target, skipping the nodes in tried.
// When every candidate of the cached range was tried, the cached range is
// forgotten and tried cleared: the view was wrong, so the ring is asked.
func (r *Router) pick(ctx context.Context, o *op, tried map[string]bool) (target, error) {
	if e, ok := r.lookup(o.pos); ok {
		for _, n := range candidates(e, o) {
			if !tried[n] {
				return target{node: n, rangeID: e.desc.GetRangeId(), desc: e.desc}, nil
			}
		}
		r.cache.drop(e.desc.GetRangeId())
		clear(tried)
	}
	node, err := r.cfg.Owner(ctx, o.pos)
	if err != nil {
		return target{}, fmt.Errorf("ask the ring for position %d: %w", o.pos, err)
	}
	return target{node: node}, nil
}

// candidates lists the nodes that may serve o for cached range e, best
// first: for an eventual read every voter in random order (spreading reads
// over replicas), otherwise the known leader, then the other voters (which
// redirect to the leader they know).
func candidates(e entry, o *op) []string {
	vs := voters(e.desc)
	if o.read != nil && o.level == rangegroup.Eventual {
		rand.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
		return vs
	}
	if e.leader == "" {
		return vs
	}
	out := make([]string, 0, len(vs))
	out = append(out, e.leader)
	for _, v := range vs {
		if v != e.leader {
			out = append(out, v)
		}
	}
	return out
}
