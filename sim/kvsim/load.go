package kvsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// load drives the cluster with Config.Clients clients. Its fields do not
// change once newLoad returns.
type load struct {
	cfg   Config
	c     *cluster
	value []byte
	keys  [][]byte
	// keyRange[i] is the range holding keys[i].
	keyRange []*rangeSpec
}

func newLoad(cfg Config, c *cluster) *load {
	l := &load{cfg: cfg, c: c, value: make([]byte, cfg.ValueSize)}
	for i := range l.value {
		l.value[i] = byte('a' + i%26)
	}
	l.keys = make([][]byte, cfg.Keys)
	l.keyRange = make([]*rangeSpec, cfg.Keys)
	for i := range l.keys {
		l.keys[i] = fmt.Appendf(nil, "key-%08d", i)
		l.keyRange[i] = c.rangeOf(position(l.keys[i]))
	}
	return l
}

// clientStats is what one client measured; only that client touches it
// until the run ends.
type clientStats struct {
	latency map[Op]*histogram // successful operations, by kind
	errors  map[string]*ErrorCount
	misses  int64
}

func (s *clientStats) record(op Op, d time.Duration, miss bool, err error) {
	if err != nil {
		kind := errorKind(err)
		e := s.errors[kind]
		if e == nil {
			e = &ErrorCount{Kind: kind, Example: err.Error()}
			s.errors[kind] = e
		}
		e.Count++
		return
	}
	h := s.latency[op]
	if h == nil {
		h = &histogram{}
		s.latency[op] = h
	}
	h.record(d)
	if miss {
		s.misses++
	}
}

// run runs the clients until the duration has passed or ctx ends, and
// returns what each measured and how long they ran. Operations in flight
// at the end complete (each within the operation timeout): none is
// cancelled and miscounted as an error.
func (l *load) run(ctx context.Context) ([]*clientStats, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Duration)
	defer cancel()
	var cnt counters
	stop := startProgress(l.cfg.Progress, "kv "+string(l.cfg.Op), &cnt)
	defer stop()
	stats := make([]*clientStats, l.cfg.Clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range stats {
		wg.Go(func() { stats[i] = l.client(ctx, i, &cnt) })
	}
	wg.Wait()
	return stats, time.Since(start)
}

// client runs operations one at a time until ctx ends.
func (l *load) client(ctx context.Context, id int, cnt *counters) *clientStats {
	rng := rand.New(rand.NewPCG(l.cfg.Seed, uint64(id)))
	s := &clientStats{latency: make(map[Op]*histogram), errors: make(map[string]*ErrorCount)}
	for ctx.Err() == nil {
		op := l.pick(rng)
		k := rng.IntN(len(l.keys))
		opCtx, cancel := context.WithTimeout(context.Background(), l.cfg.OpTimeout)
		start := time.Now()
		miss, err := l.do(opCtx, op, k, rng)
		d := time.Since(start)
		cancel()
		s.record(op, d, miss, err)
		if err != nil {
			cnt.errs.Add(1)
		} else {
			cnt.ops.Add(1)
		}
	}
	return s
}

// pick chooses the next operation's kind.
func (l *load) pick(rng *rand.Rand) Op {
	if l.cfg.Op != OpMixed {
		return l.cfg.Op
	}
	if rng.IntN(100) < l.cfg.WritePercent {
		return OpWrite
	}
	return OpLeader
}

// do runs one operation on key k. A read that finds no value is a miss,
// not an error.
func (l *load) do(ctx context.Context, op Op, k int, rng *rand.Rand) (miss bool, err error) {
	rs, key := l.keyRange[k], l.keys[k]
	nd := l.c.leaderOf(rs)
	defer func() {
		if err != nil && leaderMayHaveMoved(err) {
			l.c.learnLeader(rs, err)
		}
	}()
	if op == OpWrite {
		req := &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: key, Value: l.value}}}
		resp, err := nd.store.Write(ctx, rs.id, req)
		if err != nil {
			return false, err
		}
		return false, kv.ErrorOf(resp.GetCode(), resp.GetMessage())
	}
	level := levelOf(op)
	if level == rangegroup.Eventual {
		nd = l.c.anyReplica(rs, rng)
	}
	req := &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: key}}}
	resp, err := nd.store.Read(ctx, rs.id, level, req)
	if err != nil {
		return false, err
	}
	if resp.GetCode() == kvpb.ErrorCode_NOT_FOUND {
		return true, nil
	}
	return false, kv.ErrorOf(resp.GetCode(), resp.GetMessage())
}

// levelOf is the consistency level of a read operation.
func levelOf(op Op) rangegroup.Consistency {
	switch op {
	case OpStrong:
		return rangegroup.Strong
	case OpEventual:
		return rangegroup.Eventual
	}
	return rangegroup.Leader
}
