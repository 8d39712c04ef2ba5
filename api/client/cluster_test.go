package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/membership"
)

// testCluster is a few concord.Nodes in this process over loopback TCP,
// with the fast timings of the root package's test harness.
type testCluster struct {
	t     *testing.T
	nodes []*concord.Node // nil once closed
}

func newTestCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n != nil {
				_ = n.Close()
			}
		}
	})
	for i := range size {
		cfg := concord.Config{
			Name:              fmt.Sprintf("n%d", i+1),
			BindAddr:          "127.0.0.1:0",
			DataDir:           t.TempDir(),
			TickInterval:      40 * time.Millisecond,
			StabilizeInterval: 100 * time.Millisecond,
			Gossip:            membership.FastTiming(),
			RequestTimeout:    5 * time.Second,
			ReplaceAfter:      3 * time.Second,
		}
		if i > 0 {
			cfg.Seeds = []string{c.nodes[0].Addr()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := concord.Open(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatalf("open node %d: %v", i+1, err)
		}
		c.nodes = append(c.nodes, n)
	}
	c.waitStable()
	return c
}

func (c *testCluster) live() []*concord.Node {
	var out []*concord.Node
	for _, n := range c.nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// close leaves the cluster gracefully with node i.
func (c *testCluster) close(i int) {
	c.t.Helper()
	if err := c.nodes[i].Close(); err != nil {
		c.t.Logf("close n%d: %v", i+1, err)
	}
	c.nodes[i] = nil
}

// waitStable waits until, as the first live node sees it, every live node
// is an alive member and the ranges tile the circle, each with a replica
// on every live node (up to 3), all voters, and a known leader.
func (c *testCluster) waitStable() {
	c.t.Helper()
	live := c.live()
	await.Until(c.t, 60*time.Second, "cluster stable", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := live[0].Status(ctx)
		if err != nil {
			return err
		}
		if len(st.Unreachable) > 0 {
			return fmt.Errorf("unreachable: %v", st.Unreachable)
		}
		alive := 0
		for _, m := range st.Members {
			if m.State == "alive" {
				alive++
			}
		}
		if alive != len(live) {
			return fmt.Errorf("%d alive members, want %d", alive, len(live))
		}
		if len(st.Ranges) < len(live) {
			return fmt.Errorf("%d ranges for %d nodes", len(st.Ranges), len(live))
		}
		for i, r := range st.Ranges {
			prev := st.Ranges[(i+len(st.Ranges)-1)%len(st.Ranges)]
			if r.Start != prev.End {
				return fmt.Errorf("range %d starts at %x, previous ends at %x", r.RangeId, r.Start, prev.End)
			}
			if len(r.Replicas) != min(3, len(live)) {
				return fmt.Errorf("range %d has %d replicas", r.RangeId, len(r.Replicas))
			}
			for _, rep := range r.Replicas {
				if rep.Type != "voter" {
					return fmt.Errorf("range %d has learner %s", r.RangeId, rep.Node)
				}
			}
			if r.Leader == "" {
				return fmt.Errorf("range %d has no leader", r.RangeId)
			}
		}
		return nil
	})
}

// newClient returns a client of c seeded with its first live node.
func (c *testCluster) newClient() *Client {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := New(ctx, Config{Seeds: []string{c.live()[0].Addr()}, Timeout: 10 * time.Second})
	if err != nil {
		c.t.Fatalf("new client: %v", err)
	}
	c.t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantErr fails the test unless err wraps want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
