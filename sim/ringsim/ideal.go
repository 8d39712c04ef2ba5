package ringsim

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"

	"github.com/concord-kv/concord/ring"
)

// idealPointers checks the pointer half of the ideal ring over the live
// members' views: every successor list is exactly the next min(r, N-1) live
// nodes by id, every predecessor is the previous live node, and the ranges
// tile the circle with no gap or overlap. It returns how many nodes are not
// ideal and the first problem found.
func idealPointers(views []nodeView, r int) (bad int, first error) {
	sorted := slices.SortedFunc(slices.Values(views), func(a, b nodeView) int { return cmp.Compare(a.id, b.id) })
	fail := func(err error) {
		bad++
		if first == nil {
			first = err
		}
	}
	for i, v := range sorted {
		if err := idealNode(sorted, i, r); err != nil {
			fail(fmt.Errorf("%s: %w", v.name, err))
		}
	}
	if err := tiling(sorted); err != nil && bad == 0 {
		fail(err)
	}
	return bad, first
}

// idealNode checks one node (index i of the id-sorted views).
func idealNode(sorted []nodeView, i, r int) error {
	n := len(sorted)
	v := sorted[i]
	if !v.member {
		return fmt.Errorf("not a ring member")
	}
	want := min(r, n-1)
	if len(v.succs) != want {
		return fmt.Errorf("%d successors %s, want %d", len(v.succs), serverNames(v), want)
	}
	for k, s := range v.succs {
		if exp := sorted[(i+1+k)%n]; s.Name != exp.name {
			return fmt.Errorf("successor %d is %s, want %s", k, s.Name, exp.name)
		}
	}
	if n == 1 {
		if v.hasPred {
			return fmt.Errorf("alone but has predecessor %s", v.pred.Name)
		}
		return nil
	}
	prev := sorted[(i+n-1)%n]
	if !v.hasPred || v.pred.Name != prev.name {
		return fmt.Errorf("predecessor %s, want %s", predName(v), prev.name)
	}
	return nil
}

// tiling checks that the ranges, taken in order of their ends, each start
// where the previous one ends and that their ends are the node ids: the arcs
// then cover the circle exactly once.
func tiling(sorted []nodeView) error {
	n := len(sorted)
	for i, v := range sorted {
		if !v.hasRange {
			return fmt.Errorf("%s has no range", v.name)
		}
		if v.rng.End != v.id {
			return fmt.Errorf("%s range %v does not end at its id %d", v.name, v.rng, v.id)
		}
		prev := sorted[(i+n-1)%n]
		if v.rng.Start != prev.rng.End {
			return fmt.Errorf("gap or overlap: %s range %v starts at %d, previous range (%s) ends at %d",
				v.name, v.rng, v.rng.Start, prev.name, prev.rng.End)
		}
	}
	return nil
}

func predName(v nodeView) string {
	if !v.hasPred {
		return "none"
	}
	return v.pred.Name
}

// idealOwner returns the name of the first node at or clockwise after id
// among views sorted by id.
func idealOwner(sorted []nodeView, id uint64) string {
	i := sort.Search(len(sorted), func(i int) bool { return sorted[i].id >= id })
	return sorted[i%len(sorted)].name
}

// idealPaceEvery is how many nodes' lookups idealLookups hands out between
// two calls of its pause function.
const idealPaceEvery = 64

// idealLookups makes every live node look up keys and checks that each
// answer is the owner the sorted live set dictates. It returns the first
// disagreement. Before every idealPaceEvery nodes it calls pause: at a
// thousand nodes the check is tens of thousands of RPCs, most on new
// connections (a lookup asks each node on its path), and issued in one
// burst they delay gossip probes into false suspicions.
func (c *cluster) idealLookups(ctx context.Context, keys [][]byte, pause func()) error {
	live := c.liveNodes()
	if len(live) == 0 {
		return fmt.Errorf("no live node")
	}
	views := make([]nodeView, len(live))
	for i, s := range live {
		views[i] = nodeView{name: s.name, id: s.ring.Id()}
	}
	slices.SortFunc(views, func(a, b nodeView) int { return cmp.Compare(a.id, b.id) })
	var (
		mu    sync.Mutex
		first error
	)
	jobs := make(chan *simNode)
	var wg sync.WaitGroup
	for w := 0; w < c.cfg.Workers; w++ {
		wg.Go(func() {
			for s := range jobs {
				for _, k := range keys {
					err := lookupMatches(ctx, s.ring, k, views)
					if err != nil {
						mu.Lock()
						if first == nil {
							first = fmt.Errorf("lookup at %s: %w", s.name, err)
						}
						mu.Unlock()
						break
					}
				}
			}
		})
	}
	for i, s := range live {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		if i > 0 && i%idealPaceEvery == 0 {
			pause()
		}
		jobs <- s
	}
	close(jobs)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

func lookupMatches(ctx context.Context, n *ring.Node, key []byte, sorted []nodeView) error {
	pos := n.Position(key)
	got, err := n.LookupID(ctx, pos)
	if err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	if want := idealOwner(sorted, pos); got.Name != want {
		return fmt.Errorf("key %q at %d: owner %s, want %s", key, pos, got.Name, want)
	}
	return nil
}

// sampleKeys returns k random keys drawn from rng.
func sampleKeys(rng *rand.Rand, k int) [][]byte {
	keys := make([][]byte, k)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%016x", rng.Uint64())
	}
	return keys
}
