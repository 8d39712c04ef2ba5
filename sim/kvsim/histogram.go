package kvsim

import (
	"math"
	"math/bits"
	"time"
)

// histogram counts latencies in log-linear buckets: values below
// 2·subBuckets nanoseconds exactly, larger ones in subBuckets buckets per
// power of two, so a percentile read from it is within 1/subBuckets (about
// 3%) of the true value. Each client owns its own histograms and they are
// merged at the end, so recording takes no lock.
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	subBits    = 5
	subBuckets = 1 << subBits
	// numBuckets covers every non-negative int64: the largest has shift
	// 62-subBits and lands in the last bucket, (64-subBits)·subBuckets - 1.
	numBuckets = (64 - subBits) * subBuckets
)

// bucketOf returns the bucket of v nanoseconds.
func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [subBuckets, 2·subBuckets)
	return shift*subBuckets + int(v>>shift)
}

// bucketBounds returns the smallest value of bucket b and its width.
func bucketBounds(b int) (lo, width uint64) {
	if b < 2*subBuckets {
		return uint64(b), 1
	}
	shift := b/subBuckets - 1
	m := uint64(b%subBuckets + subBuckets)
	return m << shift, 1 << shift
}

func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q ≤ 1): the middle of the bucket
// holding the ceil(q·n)-th smallest value, never more than the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, width := bucketBounds(b)
			return min(time.Duration(lo+width/2), h.max)
		}
	}
	return h.max
}
