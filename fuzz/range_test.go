package fuzz

import (
	"math"
	"slices"
	"testing"

	"github.com/concord-kv/concord/ring"
)

// walkMaxBits is the widest circle the walking model handles: it visits up
// to 2^bits ids per input, which stays cheap up to 4096.
const walkMaxBits = 12

// FuzzRangeContains checks ring.Range.Contains on circles of 2^bits ids
// against two reference models that share no code with it, and checks the
// properties the ring relies on: an arc and its reverse split the circle,
// and the arcs of any set of node ids tile it, each id falling in the arc of
// its owner (the first node at or clockwise after it).
func FuzzRangeContains(f *testing.F) {
	const top = math.MaxUint64
	for _, s := range []struct {
		bits           uint8
		start, end, id uint64
	}{
		{7, 10, 20, 10},  // the start is excluded
		{7, 10, 20, 20},  // the end is included
		{7, 20, 10, 0},   // wraps past zero
		{7, 20, 10, 127}, // the top id on a wrapping arc
		{7, 5, 5, 5},     // start == end is the whole circle
		{0, 0, 1, 1},     // one bit: a circle of two ids
		{0, 1, 0, 0},
		{11, 4095, 0, 0},            // 12 bits, the widest walked circle
		{12, 4095, 4096, 0},         // 13 bits, modular model only
		{63, top, 0, 0},             // 64 bits: wrap from the top id
		{63, 0, top, 0},             // 64 bits: everything but zero
		{63, top, top, 12345},       // 64 bits: whole circle
		{63, top - 1, top, top},     // the top id itself
		{31, 1 << 31, 1<<31 + 1, 0}, // masking drops the high bits
	} {
		f.Add(s.bits, s.start, s.end, s.id)
	}
	f.Fuzz(func(t *testing.T, rawBits uint8, start, end, id uint64) {
		bits := int(rawBits)%64 + 1
		m := lowMask(bits)
		start, end, id = start&m, end&m, id&m
		r := ring.Range{Start: start, End: end}
		rev := ring.Range{Start: end, End: start}
		probes := []uint64{id, start, end, (start + 1) & m, (start - 1) & m, (end + 1) & m, (end - 1) & m, 0, m}

		var walked []bool
		if bits <= walkMaxBits {
			walked = walkContains(bits, start, end, probes)
		}
		for i, x := range probes {
			got := r.Contains(x)
			if walked != nil && got != walked[i] {
				t.Fatalf("%d bits: %v.Contains(%d) = %v, walking the circle says %v", bits, r, x, got, walked[i])
			}
			if want := modContains(bits, start, end, x); got != want {
				t.Fatalf("%d bits: %v.Contains(%d) = %v, modular model says %v", bits, r, x, got, want)
			}
			// (a, b] and (b, a] split the circle: every id is in exactly one.
			if start != end && got == rev.Contains(x) {
				t.Fatalf("%d bits: %v.Contains(%d) = %v and %v.Contains(%d) = %v; want exactly one", bits, r, x, got, rev, x, rev.Contains(x))
			}
		}

		nodes := nodeSet(bits, start, end, id)
		tileProbes := slices.Clone(probes)
		for _, n := range nodes {
			tileProbes = append(tileProbes, n, (n+1)&m, (n-1)&m)
		}
		for _, x := range tileProbes {
			want := owner(nodes, x)
			hits := 0
			for i, n := range nodes {
				arc := ring.Range{Start: nodes[(i+len(nodes)-1)%len(nodes)], End: n}
				if arc.Contains(x) {
					hits++
					if n != want {
						t.Fatalf("%d bits, nodes %v: id %d is in %v, but its owner is %d", bits, nodes, x, arc, want)
					}
				}
			}
			if hits != 1 {
				t.Fatalf("%d bits, nodes %v: id %d is in %d arcs, want exactly 1", bits, nodes, x, hits)
			}
		}
	})
}

// lowMask keeps the low bits of an id; written here rather than borrowed
// from the ring so a shared mistake cannot hide.
func lowMask(bits int) uint64 {
	if bits == 64 {
		return math.MaxUint64
	}
	return 1<<bits - 1
}

// walkContains answers Contains for each probe by stepping clockwise from
// start+1 to end, one id at a time. When start == end the walk goes all the
// way round, which is exactly the whole-circle rule.
func walkContains(bits int, start, end uint64, probes []uint64) []bool {
	m := lowMask(bits)
	in := make([]bool, len(probes))
	for x := (start + 1) & m; ; x = (x + 1) & m {
		for i, p := range probes {
			if p == x {
				in[i] = true
			}
		}
		if x == end {
			return in
		}
	}
}

// modContains answers Contains with modular arithmetic: x is in (start, end]
// when its clockwise distance from start is in [1, span], span being the
// clockwise distance from start to end, or when the arc is the whole circle.
func modContains(bits int, start, end, x uint64) bool {
	m := lowMask(bits)
	span := (end - start) & m
	if span == 0 {
		return true
	}
	d := (x - start) & m
	return d >= 1 && d <= span
}

// nodeSet derives a sorted set of distinct node ids from the input: start
// and end themselves (so the fuzzer steers edge cases like 0 and the top id)
// plus up to four ids from a splitmix64 stream seeded by the input.
func nodeSet(bits int, start, end, id uint64) []uint64 {
	m := lowMask(bits)
	state := start ^ end<<17 ^ end>>47 ^ id*0x9e3779b97f4a7c15 ^ uint64(bits)
	next := func() uint64 {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return z ^ z>>31
	}
	nodes := []uint64{start, end}
	for range next() % 5 {
		nodes = append(nodes, next()&m)
	}
	slices.Sort(nodes)
	return slices.Compact(nodes)
}

// owner is the first node at or clockwise after x, found by a linear scan of
// the sorted ids.
func owner(sorted []uint64, x uint64) uint64 {
	for _, n := range sorted {
		if n >= x {
			return n
		}
	}
	return sorted[0]
}
