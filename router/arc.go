package router

import "github.com/concord-kv/concord/rangegroup/kv"

// segmentEnd is the last position of the contiguous stretch of arc a that
// starts at or before pos and holds it (a wrapping arc has two stretches;
// scans walk positions in increasing order). a must contain pos.
func segmentEnd(a kv.Arc, pos uint64) uint64 {
	for _, s := range a.Intervals() {
		if s[0] <= pos && pos <= s[1] {
			return s[1]
		}
	}
	return pos
}
