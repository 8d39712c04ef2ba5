package ringsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// progressPeriod is how often long phases report to the progress writer.
const progressPeriod = 3 * time.Second

// calmProbes bounds one pause for calm (see Config.CalmLatency), in gossip
// probe intervals: a process that never calms down still finishes its
// build, or fails it by its budget, and a wait long enough for gossip to
// digest a wave (30s at 1024 nodes) stays short where probes are fast (1.2s
// in the test campaigns).
const calmProbes = 6

// waitCalm waits until the process is calm (see Config.CalmLatency), in
// windows of a quarter gossip interval (at least 50ms), and returns the last
// measured latency. A window that short may end before the gossip of what
// came just before it starts; the next wait then sees it.
func (r *runner) waitCalm(ctx context.Context) time.Duration {
	window := max(r.cfg.Gossip.GossipInterval/4, 50*time.Millisecond)
	maxWait := calmProbes * r.cfg.Gossip.ProbeInterval
	latency, _ := r.sched.waitCalm(ctx, r.cfg.CalmLatency, window, maxWait)
	return latency
}

// build starts cfg.Nodes nodes: the first creates the ring, the others join
// in waves of concurrent joins through random already-joined seeds. A wave
// is at most as large as the ring it joins (so the ring doubles while small)
// and at most cfg.Batch. A node that cannot join after three attempts is
// stopped and replaced; more than Nodes/10+3 such failures abort the build.
func (r *runner) build(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.BuildTimeout)
	defer cancel()
	c := r.c
	first, err := c.start()
	if err != nil {
		return err
	}
	if err := c.create(first); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	failures := 0
	tick := every(progressPeriod)
	var latency time.Duration
	for joined := 1; joined < r.cfg.Nodes; joined = c.liveCount() {
		if joined > 1 {
			latency = r.waitCalm(ctx)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%d of %d nodes joined within %v: %w", joined, r.cfg.Nodes, r.cfg.BuildTimeout, err)
		}
		wave := min(r.cfg.Batch, joined, r.cfg.Nodes-joined)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var lastErr error
		for range wave {
			s, err := c.start()
			if err != nil {
				return err
			}
			rng := rand.New(rand.NewPCG(r.rng.Uint64(), r.rng.Uint64()))
			wg.Go(func() {
				if err := c.join(ctx, s, rng, 3); err != nil {
					mu.Lock()
					failures++
					lastErr = err
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if failures > r.cfg.Nodes/10+3 {
			return fmt.Errorf("%d joins failed, last: %w", failures, lastErr)
		}
		if tick() {
			r.prog.printf("build", "%d/%d nodes joined (%d join failures), scheduler latency p99 %v",
				c.liveCount(), r.cfg.Nodes, failures, latency)
		}
	}
	r.prog.printf("build", "%d nodes joined in %v (%d join failures)", c.liveCount(), time.Since(r.phaseStart).Round(time.Millisecond), failures)
	return nil
}

// waitIdeal polls until the ring is ideal (see idealPointers and
// idealLookups) or timeout passes, and returns the time from since until
// the start of the poll that found the ring ideal (so its resolution is one
// Interval plus the time a poll takes). A timeout is recorded as an ideal violation.
func (r *runner) waitIdeal(ctx context.Context, phase string, since time.Time, timeout time.Duration) (time.Duration, bool) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	keys := sampleKeys(r.rng, r.cfg.IdealKeys)
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	tick := every(progressPeriod)
	var last error
	for {
		// The ring was ideal when the successful poll began: the lookups
		// that complete the check only confirm it.
		polled := time.Now()
		views := r.c.snapshot()
		bad, err := idealPointers(views, r.cfg.SuccessorCount)
		if err == nil {
			err = r.c.idealLookups(ctx, keys, func() { r.waitCalm(ctx) })
			if err == nil {
				took := polled.Sub(since)
				r.prog.printf(phase, "ring of %d is ideal after %v", len(views), took.Round(time.Millisecond))
				return took, true
			}
			bad = -1
		}
		last = err
		if tick() {
			p99, _ := r.sched.read(0.99)
			if bad >= 0 {
				r.prog.printf(phase, "%d of %d nodes not ideal yet (e.g. %v); scheduler latency p99 %v", bad, len(views), err, p99)
			} else {
				r.prog.printf(phase, "pointers ideal, lookups not yet: %v; scheduler latency p99 %v", err, p99)
			}
		}
		select {
		case <-ctx.Done():
			took := time.Since(start)
			r.mon.report(kindIdeal, "ring", fmt.Sprintf("not ideal %v after %s began: %v", took.Round(time.Millisecond), phase, last))
			r.prog.printf(phase, "gave up after %v: %v", took.Round(time.Millisecond), last)
			return took, false
		case <-t.C:
		}
	}
}

// steady measures lookup path lengths on the quiet ring. Any failed or wrong
// lookup there is a violation: nothing is changing.
func (r *runner) steady(ctx context.Context) SteadyResult {
	n := r.c.liveCount()
	r.prog.printf("steady", "%d lookups on %d nodes", r.cfg.Lookups, n)
	st := measureLookups(ctx, r.c, r.rng, r.cfg.Lookups)
	if st.Failed > 0 || st.Wrong() > 0 {
		r.mon.report(kindSteadyLookup, "ring", fmt.Sprintf("%d of %d lookups failed, %d named a dead node, %d a wrong live node",
			st.Failed, st.Issued, st.Dead, st.Misrouted))
	}
	res := SteadyResult{Nodes: n, Lookups: st, Path: pathStats(st.Hops, n)}
	r.prog.printf("steady", "mean path %.2f hops, p99 %d, ½·log2 N = %.2f", res.Path.Mean, res.Path.P99, res.Path.HalfLog2N)
	return res
}

// churn runs joins and crashes with continuous lookups for cfg.Duration.
func (r *runner) churn(ctx context.Context) ChurnResult {
	stop := make(chan struct{})
	rec := &recorder{}
	ch := &churner{c: r.c, rng: rand.New(rand.NewPCG(r.rng.Uint64(), r.rng.Uint64()))}
	loadRng := rand.New(rand.NewPCG(r.rng.Uint64(), r.rng.Uint64()))
	var wg sync.WaitGroup
	var events ChurnStats
	wg.Go(func() { events = ch.run(ctx, stop) })
	wg.Go(func() { lookupLoad(ctx, r.c, loadRng, rec, stop) })
	start := time.Now()
	end := time.NewTimer(r.cfg.Duration)
	defer end.Stop()
	t := time.NewTicker(progressPeriod)
	defer t.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-end.C:
			break wait
		case <-t.C:
			st := rec.result()
			r.prog.printf("churn", "%v: %d live, %d joins, %d crashes, %d lookups (%d failed, %d wrong, %d skipped)",
				time.Since(start).Round(time.Second), r.c.liveCount(), ch.joins.Load(), ch.crashes.Load(),
				st.Issued, st.Failed, st.Wrong(), st.Skipped)
		}
	}
	close(stop)
	r.stopped = time.Now()
	wg.Wait()
	st := rec.result()
	return ChurnResult{
		Duration:  r.stopped.Sub(start),
		Events:    events,
		Lookups:   st,
		Path:      pathStats(st.Hops, r.c.liveCount()),
		LiveAtEnd: r.c.liveCount(),
	}
}
