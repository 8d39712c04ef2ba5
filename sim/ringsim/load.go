package ringsim

import (
	"context"
	"math"
	"runtime/metrics"
	"sync"
	"time"
)

// schedGauge measures how long runnable goroutines wait for a CPU, from the
// runtime's scheduling-latency histogram.
//
// In one process running many nodes, this wait is added to every message
// on top of its own work. Once it nears the gossip probe timeout, healthy
// nodes are suspected of failure; every suspicion and its refutation is
// gossiped to every node, and that extra work lengthens the wait further, a
// cascade that two cores do not recover from. The build therefore waits
// for the process to be calm before each wave of joins (see waitCalm): a
// wave's join announcements reach every node through gossip some seconds
// after the joins themselves return.
type schedGauge struct {
	mu     sync.Mutex
	sample []metrics.Sample
	last   []uint64 // bucket counts at the previous read
}

const schedLatencyMetric = "/sched/latencies:seconds"

func newSchedGauge() *schedGauge {
	g := &schedGauge{sample: []metrics.Sample{{Name: schedLatencyMetric}}}
	g.read(calmQuantile)
	return g
}

// read returns the q-quantile (rounded up to a bucket boundary) of the
// scheduling latencies recorded since the previous read, and how many were
// recorded. With none recorded it returns 0.
func (g *schedGauge) read(q float64) (time.Duration, uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	metrics.Read(g.sample)
	if g.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, 0 // the runtime does not offer the metric
	}
	h := g.sample[0].Value.Float64Histogram()
	delta := make([]uint64, len(h.Counts))
	var total uint64
	for i, c := range h.Counts {
		if i < len(g.last) {
			c -= g.last[i]
		}
		delta[i] = c
		total += c
	}
	g.last = append(g.last[:0], h.Counts...)
	return quantile(h.Buckets, delta, q), total
}

// quantile returns the q-quantile of a histogram whose bucket i, counted in
// counts[i], spans [buckets[i], buckets[i+1]), as the upper bound of the
// bucket it falls in (the lower bound for the last, unbounded, bucket). An
// empty histogram gives 0.
func quantile(buckets []float64, counts []uint64, q float64) time.Duration {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := max(1, uint64(math.Ceil(q*float64(total))))
	var seen uint64
	for i, c := range counts {
		if seen += c; seen >= want {
			upper := buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
}

// calmQuantile is the percentile of scheduling latency that pacing watches.
// Most wake-ups run at once (a woken goroutine usually takes the next slot
// on its processor), so the median and even the 90th percentile stay small
// while thousands of goroutines queue; the queue shows in the tail.
const calmQuantile = 0.99

// waitCalm waits, one window at a time, until the 99th percentile of the
// scheduling latency over the last window is at most limit, for at most
// maxWait (and never past ctx). It reports the last measured percentile and
// whether it was within the limit. A negative limit disables the wait.
func (g *schedGauge) waitCalm(ctx context.Context, limit, window, maxWait time.Duration) (time.Duration, bool) {
	if limit < 0 {
		return 0, true
	}
	deadline := time.Now().Add(maxWait)
	g.read(calmQuantile) // start a fresh window
	t := time.NewTicker(window)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, false
		case <-t.C:
		}
		lat, _ := g.read(calmQuantile)
		if lat <= limit {
			return lat, true
		}
		if time.Now().After(deadline) {
			return lat, false
		}
	}
}
