package ringsim

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	t.Parallel()
	buckets := []float64{0, 0.001, 0.01, 0.1, math.Inf(1)}
	for _, tc := range []struct {
		counts []uint64
		q      float64
		want   time.Duration
	}{
		{[]uint64{0, 0, 0, 0}, 0.99, 0},
		{[]uint64{100, 0, 0, 0}, 0.99, time.Millisecond},
		{[]uint64{98, 1, 1, 0}, 0.99, 10 * time.Millisecond},
		{[]uint64{98, 0, 1, 1}, 0.99, 100 * time.Millisecond},
		{[]uint64{90, 0, 0, 10}, 0.5, time.Millisecond},
		{[]uint64{0, 0, 0, 5}, 0.99, 100 * time.Millisecond}, // unbounded bucket: its lower bound
		{[]uint64{1, 0, 0, 0}, 0, time.Millisecond},
	} {
		if got := quantile(buckets, tc.counts, tc.q); got != tc.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", tc.counts, tc.q, got, tc.want)
		}
	}
}

// The gauge reads the runtime's histogram window by window, and waitCalm
// returns at once when pacing is off and after one window when the limit is
// generous.
func TestSchedGauge(t *testing.T) {
	t.Parallel()
	g := newSchedGauge()
	done := make(chan struct{})
	for range 100 {
		go func() { done <- struct{}{} }()
	}
	for range 100 {
		<-done
	}
	if lat, n := g.read(1); lat < 0 || (n == 0 && lat != 0) {
		t.Fatalf("read = %v over %d samples", lat, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, ok := g.waitCalm(ctx, -1, time.Hour, time.Hour); !ok {
		t.Fatal("waitCalm with pacing off did not return calm")
	}
	if _, ok := g.waitCalm(ctx, time.Hour, time.Millisecond, time.Hour); !ok {
		t.Fatal("waitCalm with an hour's limit did not return calm")
	}
	cancel()
	if _, ok := g.waitCalm(ctx, time.Hour, time.Hour, time.Hour); ok {
		t.Fatal("waitCalm reported calm after its context ended")
	}
}
