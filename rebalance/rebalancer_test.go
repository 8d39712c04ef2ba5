package rebalance

import (
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
)

// within bounds each convergence phase of the cluster test: an upper bound
// for slow machines and the race detector, never a performance claim.
const within = 60 * time.Second

// TestRebalancerKeepsPlacement runs real Stores with their Rebalancers:
// one node bootstraps the whole circle, nodes join the View one by one and
// every range converges to the placement rule (split at each id, replicas
// on the first three nodes from its end, led by the first); a node that
// leaves gracefully is replaced at once; a node that crashes keeps its
// replicas through the grace period, takes them back when it restarts
// within it, and is replaced once it stays down past it.
func TestRebalancerKeepsPlacement(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t)
	ids := []uint64{1 << 60, 9 << 60, 5 << 60, 13 << 60, 3 << 60}
	for i, id := range ids {
		c.addNode(fmt.Sprintf("n%d", i+1), id)
	}
	n1 := c.node("n1")
	c.view.set(alive("n1", n1.id))
	if err := n1.currentStore().CreateRange(BootstrapDescriptor("n1", n1.id)); err != nil {
		t.Fatal(err)
	}
	await.Until(t, within, "the bootstrap range alone", c.placed)

	for _, nd := range c.nodes[1:] {
		c.view.set(append(c.view.Members(), alive(nd.name, nd.id))...)
		c.triggerAll()
		await.Until(t, within, nd.name+" joined and placement holds", c.placed)
	}
	infos, err := c.leaderViews()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(ids) {
		t.Fatalf("%d ranges after %d joins, want one per node", len(infos), len(ids))
	}

	// n2 leaves gracefully: it keeps running (and leading) while its
	// replicas are replaced, and is gone from every range after.
	c.view.update("n2", func(m *Member) { m.Alive, m.Left, m.DownSince = false, true, c.clock.Now() })
	c.triggerAll()
	await.Until(t, within, "n2 left and placement holds", func() error {
		if err := c.placed(); err != nil {
			return err
		}
		infos, err := c.leaderViews()
		if err != nil {
			return err
		}
		if d := holdsReplica(infos, "n2"); d != nil {
			return fmt.Errorf("n2 still in %s", describe(d))
		}
		return nil
	})

	// n3 crashes. Within the grace period nothing moves, however many
	// passes run; ranges it led elect new leaders.
	before, err := c.replicaSets()
	if err != nil {
		t.Fatal(err)
	}
	n3 := c.node("n3")
	n3.crash()
	c.view.update("n3", func(m *Member) { m.Alive, m.DownSince = false, c.clock.Now() })
	c.clock.Advance(testGrace - time.Minute)
	c.triggerAll()
	await.Until(t, within, "every range led by a live node", func() error {
		_, err := c.leaderViews()
		return err
	})
	c.awaitPasses(3)
	after, err := c.replicaSets()
	if err != nil {
		t.Fatal(err)
	}
	for id, set := range before {
		if after[id] != set {
			t.Fatalf("within grace, range %d changed from [%s] to [%s]", id, set, after[id])
		}
	}

	// n3 restarts within its grace period: it takes its replicas back,
	// with nothing re-replicated, and leads its ranges again.
	c.start(n3)
	c.view.update("n3", func(m *Member) { m.Alive, m.DownSince = true, time.Time{} })
	c.triggerAll()
	await.Until(t, within, "n3 back and placement holds", c.placed)
	after, err = c.replicaSets()
	if err != nil {
		t.Fatal(err)
	}
	for id, set := range before {
		if after[id] != set {
			t.Fatalf("after a quick restart, range %d changed from [%s] to [%s]", id, set, after[id])
		}
	}

	// n3 crashes again and stays down past the grace period: its replicas
	// are replaced by the remaining nodes.
	n3.crash()
	c.view.update("n3", func(m *Member) { m.Alive, m.DownSince = false, c.clock.Now() })
	c.clock.Advance(testGrace)
	c.triggerAll()
	await.Until(t, within, "n3 replaced and placement holds", func() error {
		if err := c.placed(); err != nil {
			return err
		}
		infos, err := c.leaderViews()
		if err != nil {
			return err
		}
		if d := holdsReplica(infos, "n3"); d != nil {
			return fmt.Errorf("n3 still in %s", describe(d))
		}
		return nil
	})
	infos, err = c.leaderViews()
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if got := replicaSet(info.Descriptor); got != "n1 n4 n5" {
			t.Fatalf("%s: replicas [%s], want the three remaining nodes", describe(info.Descriptor), got)
		}
	}
}

// awaitPasses waits until every running rebalancer has completed n more
// passes than it had when called, triggering them to run promptly.
func (c *testCluster) awaitPasses(n uint64) {
	c.t.Helper()
	start := map[*Rebalancer]uint64{}
	for _, nd := range c.nodes {
		if rb := nd.rebalancer(); rb != nil {
			start[rb] = rb.passes.Load()
		}
	}
	await.Until(c.t, within, fmt.Sprintf("%d passes on every node", n), func() error {
		c.triggerAll()
		for rb, p := range start {
			if got := rb.passes.Load(); got < p+n {
				return fmt.Errorf("%s: %d passes of %d", rb.cfg.Self, got-p, n)
			}
		}
		return nil
	})
}
