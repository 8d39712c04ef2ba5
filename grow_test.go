package concord

import (
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
)

// TestGrowAndShrinkUnderLoad grows a cluster from one node to five while a
// writer runs, then shrinks it to three (one graceful leave, one crash left
// down past the grace period). After every step every acknowledged write
// is readable with strong consistency, and at quiescence each range sits
// on exactly the nodes the placement rule names, led by its preferred
// leader, with the ranges tiling the circle.
func TestGrowAndShrinkUnderLoad(t *testing.T) {
	t.Parallel()
	c := newKVCluster(t)
	c.add()
	w := c.startWriter()
	start := time.Now()
	for range 4 {
		c.add()
		t.Logf("%v: joined", time.Since(start))
		await.Until(t, 60*time.Second, "placement after a join", c.placementError)
		t.Logf("%v: placed", time.Since(start))
		c.checkAcked(w.snapshot())
		t.Logf("%v: checked", time.Since(start))
	}
	live := c.live()
	c.leave(live[1])
	await.Until(t, 60*time.Second, "placement after a graceful leave", c.placementError)
	c.checkAcked(w.snapshot())

	c.crash(live[3])
	await.Until(t, 60*time.Second, "placement after a crash past the grace period", c.placementError)
	acked := w.halt()
	if len(acked) < 50 {
		t.Fatalf("only %d writes were acknowledged", len(acked))
	}
	c.checkAcked(acked)
}

// TestWholeClusterRestartLosesNothing crashes every node at once (losing
// whatever Pebble had not synced) and restarts them all from their data
// directories.
func TestWholeClusterRestartLosesNothing(t *testing.T) {
	t.Parallel()
	c := newKVCluster(t)
	for range 3 {
		c.add()
	}
	await.Until(t, 60*time.Second, "placement", c.placementError)
	w := c.startWriter()
	await.Until(t, 30*time.Second, "some writes", func() error {
		if n := len(w.snapshot()); n < 100 {
			return fmt.Errorf("%d writes acknowledged", n)
		}
		return nil
	})
	acked := w.halt()
	nodes := c.live()
	for _, n := range nodes {
		c.crash(n)
	}
	// The first node restarts without seeds; the others join it.
	c.restart(nodes[0], nil)
	for _, n := range nodes[1:] {
		c.restart(n, []string{nodes[0].ip + ":7946"})
	}
	c.checkAcked(acked)
	await.Until(t, 60*time.Second, "placement after the restart", c.placementError)
}
