package kvsim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Every value falls inside its bucket's bounds, and buckets are no wider
// than 1/subBuckets of their lower bound.
func TestBucketBounds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 63, 64, 65, 127, 128, 1 << 40, 1<<63 - 1}
	for range 10000 {
		values = append(values, rng.Uint64N(1<<rng.IntN(63)+1))
	}
	for _, v := range values {
		b := bucketOf(v)
		if b < 0 || b >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, b, numBuckets)
		}
		lo, width := bucketBounds(b)
		if v < lo || v-lo >= width {
			t.Fatalf("%d in bucket %d = [%d, %d+%d)", v, b, lo, lo, width)
		}
		if width > 1 && width*subBuckets > lo {
			t.Fatalf("bucket %d = [%d, +%d) is wider than 1/%d of its bound", b, lo, width, subBuckets)
		}
	}
}

// Quantiles read from the histogram are within one bucket of the exact
// ones, merging adds counts, and the maximum is exact.
func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var a, b histogram
	var all []time.Duration
	for i := range 20000 {
		d := time.Duration(rng.ExpFloat64() * float64(time.Millisecond))
		all = append(all, d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	a.merge(&b)
	slices.Sort(all)
	if a.n != uint64(len(all)) || a.max != all[len(all)-1] {
		t.Fatalf("merged n=%d max=%v, want %d and %v", a.n, a.max, len(all), all[len(all)-1])
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := all[int(q*float64(len(all)))-1]
		got := a.quantile(q)
		if diff := (got - exact).Abs(); float64(diff) > float64(exact)/subBuckets+1 {
			t.Errorf("q%v = %v, exact %v", q, got, exact)
		}
	}
	var empty histogram
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty histogram's median = %v", got)
	}
}
