package router

import (
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup"
)

// TestEventualReadsSpreadOverReplicas: eventual reads through one router
// are served by every replica, while leader reads all go to the leader.
func TestEventualReadsSpreadOverReplicas(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n4 := c.node("n4")
	k := keyIn(arcs[1], "spread", 0)
	n4.put(t, k, "v")
	served := func(level string) map[string]float64 {
		out := map[string]float64{}
		for _, nd := range c.nodes {
			out[nd.name] = count(t, nd.router.metrics.served, level)
		}
		return out
	}
	// Every replica has applied the write before the eventual reads, so
	// each of them must return it.
	await.Until(t, 10*time.Second, "every replica applied the write", func() error {
		for _, name := range []string{"n1", "n2", "n3"} {
			rep, err := c.node(name).router.serve(testCtx(t, time.Second), 2, 0, 0, &op{read: getReq(k), level: rangegroup.Eventual})
			if err != nil {
				return err
			}
			if _, err := valueOf(rep.read); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	})
	before := served("eventual")
	const reads = 60
	for range reads {
		if got, err := n4.get(t, rangegroup.Eventual, k); err != nil || got != "v" {
			t.Fatalf("eventual read: %q, %v", got, err)
		}
	}
	after := served("eventual")
	total := 0.0
	for _, name := range []string{"n1", "n2", "n3"} {
		d := after[name] - before[name]
		total += d
		// With three replicas picked at random, a replica missing from
		// 60 reads has probability 3·(2/3)^60 < 1e-10.
		if d == 0 {
			t.Errorf("replica %s served none of %d eventual reads: %v -> %v", name, reads, before, after)
		}
	}
	if total != reads || after["n4"] != 0 {
		t.Errorf("eventual reads served: %v -> %v, want %d in all on n1..n3", before, after, reads)
	}
	// Leader reads all go to range 2's leader, n2.
	lb := served("leader")
	for range 10 {
		if _, err := n4.get(t, rangegroup.Leader, k); err != nil {
			t.Fatal(err)
		}
	}
	la := served("leader")
	if la["n2"]-lb["n2"] != 10 {
		t.Errorf("leader reads served: %v -> %v, want 10 more on n2", lb, la)
	}
}
