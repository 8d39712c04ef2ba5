package ringsim

import (
	"math"
	"slices"
)

// PathStats summarises lookup path lengths (remote hops, see ring.Trace).
type PathStats struct {
	Count int
	Mean  float64
	P50   int
	P99   int
	Max   int
	// HalfLog2N is ½·log2 N for the N the lookups ran on: the mean path
	// length the Chord paper reports for a ring of N nodes.
	HalfLog2N float64
}

// pathStats computes PathStats for hops on a ring of n nodes. Percentiles
// use the nearest-rank method.
func pathStats(hops []int, n int) PathStats {
	s := PathStats{Count: len(hops), HalfLog2N: 0.5 * math.Log2(float64(n))}
	if len(hops) == 0 {
		return s
	}
	sorted := slices.Clone(hops)
	slices.Sort(sorted)
	sum := 0
	for _, h := range sorted {
		sum += h
	}
	s.Mean = float64(sum) / float64(len(sorted))
	s.P50 = percentile(sorted, 0.50)
	s.P99 = percentile(sorted, 0.99)
	s.Max = sorted[len(sorted)-1]
	return s
}

// percentile returns the nearest-rank p-quantile of sorted (non-empty).
func percentile(sorted []int, p float64) int {
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// fraction is part/whole, or 0 when whole is 0.
func fraction(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}
