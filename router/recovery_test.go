package router

import (
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
)

// TestStaleCacheAfterSplit: a router whose cache predates a split sends
// to the old range, is told of the mismatch with the new descriptor, and
// re-routes to the new range.
func TestStaleCacheAfterSplit(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n4 := c.node("n4")
	// Two keys of range 2, on either side of the split point to come.
	mid := arcs[1].Start + (arcs[1].End-arcs[1].Start)/2
	left, right := keyIn(kv.Arc{Start: arcs[1].Start, End: mid}, "left", 0), keyIn(kv.Arc{Start: mid, End: arcs[1].End}, "right", 0)
	n4.put(t, left, "l1")
	n4.put(t, right, "r1")
	old, ok := n4.router.cache.byID(2)
	if !ok {
		t.Fatal("n4 did not cache range 2")
	}
	before := old.desc

	newID, err := c.leader(2).store.Split(testCtx(t, 10*time.Second), 2, mid)
	if err != nil {
		t.Fatalf("split: %v", err)
	}
	mismatches := count(t, n4.router.metrics.retries, retryMismatch)
	// n4 still believes range 2 holds the right key.
	if e, ok := n4.router.cache.lookup(testPosition([]byte(right))); !ok || e.desc.RangeId != 2 {
		t.Fatalf("n4's cache changed before any request: %v", e.desc)
	}
	n4.put(t, right, "r2")
	if got := count(t, n4.router.metrics.retries, retryMismatch); got <= mismatches {
		t.Fatalf("range mismatch retries %v -> %v: the stale cache was not corrected by a mismatch", mismatches, got)
	}
	e, ok := n4.router.cache.lookup(testPosition([]byte(right)))
	if !ok || e.desc.RangeId != newID || e.desc.Start != mid {
		t.Fatalf("n4's cache for the right key: %v, want range %d starting at %d", e.desc, newID, mid)
	}
	if e, _ := n4.router.cache.lookup(testPosition([]byte(left))); e.desc.GetEnd() != mid || e.desc.GetGeneration() <= before.Generation {
		t.Fatalf("n4's cache for the left key: %v, want the shrunk range 2", e.desc)
	}
	for k, want := range map[string]string{left: "l1", right: "r2"} {
		if got, err := n4.get(t, rangegroup.Strong, k); err != nil || got != want {
			t.Fatalf("%s = %q, %v; want %q", k, got, err, want)
		}
	}
	// Reads with a stale cache recover the same way: n1 never talked to
	// range 2 since the split.
	n1 := c.node("n1")
	n1.router.cache.update(before, "n2")
	if got, err := n1.get(t, rangegroup.Leader, right); err != nil || got != "r2" {
		t.Fatalf("read via n1 with a stale cache: %q, %v", got, err)
	}
	if got := count(t, n1.router.metrics.retries, retryMismatch); got == 0 {
		t.Fatal("n1's stale read did not go through a mismatch")
	}
}

// TestStaleCacheAfterLeaderTransfer: a router that sends to the old leader
// follows its NotLeader hint at once.
func TestStaleCacheAfterLeaderTransfer(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n4 := c.node("n4")
	k := keyIn(arcs[0], "moving", 0)
	n4.put(t, k, "v1")
	if e, _ := n4.router.cache.lookup(testPosition([]byte(k))); e.leader != "n1" {
		t.Fatalf("n4 believes %q leads range 1, want n1", e.leader)
	}
	c.lead(1, "n3")
	notLeader := count(t, n4.router.metrics.retries, retryNotLeader)
	n4.put(t, k, "v2")
	if got := count(t, n4.router.metrics.retries, retryNotLeader); got <= notLeader {
		t.Fatalf("not-leader retries %v -> %v: the stale leader hint was not corrected", notLeader, got)
	}
	if e, _ := n4.router.cache.lookup(testPosition([]byte(k))); e.leader != "n3" {
		t.Fatalf("n4 believes %q leads range 1, want n3", e.leader)
	}
	for _, nd := range c.nodes {
		if got, err := nd.get(t, rangegroup.Strong, k); err != nil || got != "v2" {
			t.Fatalf("%s: %s = %q, %v", nd.name, k, got, err)
		}
	}
	// The old leader's own router also had it cached as local leader.
	n1 := c.node("n1")
	await.Until(t, 10*time.Second, "n1 reads through the new leader", func() error {
		got, err := n1.get(t, rangegroup.Leader, k)
		if err != nil {
			return err
		}
		if got != "v2" {
			return fmt.Errorf("got %q", got)
		}
		return nil
	})
}
