package kvsim

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// Preload batches are bounded like the API's bulk calls, and by bytes so
// that large values stay well under the Store's command size limit.
const (
	preloadItems = 500
	preloadBytes = 4 << 20
)

// preload writes every key once, with bulk puts through each range's
// leader, and waits until every replica has applied them, so that reads
// at any level find the whole key space.
func (l *load) preload(ctx context.Context) error {
	byRange := make(map[*rangeSpec][]int)
	for k, rs := range l.keyRange {
		byRange[rs] = append(byRange[rs], k)
	}
	perBatch := max(1, min(preloadItems, preloadBytes/max(1, len(l.value))))
	for _, rs := range l.c.ranges {
		ks := byRange[rs]
		for start := 0; start < len(ks); start += perBatch {
			pm := &kvpb.PutManyRequest{}
			for _, k := range ks[start:min(start+perBatch, len(ks))] {
				pm.Items = append(pm.Items, &kvpb.PutRequest{Key: l.keys[k], Value: l.value})
			}
			if err := l.c.writeRetrying(ctx, rs, &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: pm}}, l.cfg.OpTimeout); err != nil {
				return fmt.Errorf("kvsim: preload range %d: %w", rs.id, err)
			}
		}
	}
	return l.c.waitApplied(ctx)
}

// writeRetrying writes req to the leader of rs, following leader changes
// until it is applied or ctx ends. Only for idempotent requests.
func (c *cluster) writeRetrying(ctx context.Context, rs *rangeSpec, req *kvpb.Request, opTimeout time.Duration) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		opCtx, cancel := context.WithTimeout(ctx, opTimeout)
		resp, err := c.leaderOf(rs).store.Write(opCtx, rs.id, req)
		cancel()
		if err == nil {
			return kv.ErrorOf(resp.GetCode(), resp.GetMessage())
		}
		if !leaderMayHaveMoved(err) {
			return err
		}
		c.learnLeader(rs, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// waitApplied waits until every replica of every range has applied what
// its leader had applied when the wait began.
func (c *cluster) waitApplied(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, rs := range c.ranges {
		info, err := c.leaderOf(rs).store.Range(rs.id)
		if err != nil {
			return fmt.Errorf("kvsim: range %d: %w", rs.id, err)
		}
		for _, i := range rs.replicas {
			for {
				got, err := c.nodes[i].store.Range(rs.id)
				if err != nil {
					return fmt.Errorf("kvsim: range %d on %s: %w", rs.id, nodeName(i), err)
				}
				if got.AppliedIndex >= info.AppliedIndex {
					break
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("kvsim: range %d on %s applied %d of %d: %w", rs.id, nodeName(i), got.AppliedIndex, info.AppliedIndex, ctx.Err())
				case <-tick.C:
				}
			}
		}
	}
	return nil
}
