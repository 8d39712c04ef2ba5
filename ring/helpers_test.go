package ring_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/concord-kv/concord/ring"
	"github.com/concord-kv/concord/ring/ringcheck"
	"github.com/concord-kv/concord/transport"
)

// testRing is a set of ring nodes on one in-memory network.
type testRing struct {
	t     *testing.T
	net   *transport.MemNetwork
	nodes []*Node
}

func newTestRing(t *testing.T) *testRing {
	t.Helper()
	return &testRing{t: t, net: transport.NewMemNetwork(1)}
}

func hostIP(i int) string { return fmt.Sprintf("127.2.%d.%d", i/250, i%250+1) }

// add starts node i with fast timings; mutate may adjust its Config.
func (r *testRing) add(i int, mutate func(*Config)) *Node {
	r.t.Helper()
	ip := hostIP(i)
	cfg := Config{
		Name:              fmt.Sprintf("n%d", i),
		BindAddr:          ip + ":7000",
		Network:           r.net.Host(ip),
		StabilizeInterval: 20 * time.Millisecond,
		// Generous: the race detector and parallel tests on two cores slow
		// RPCs by an order of magnitude.
		RPCTimeout: time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	n := New(cfg)
	if err := n.Start(); err != nil {
		r.t.Fatalf("start %s: %v", cfg.Name, err)
	}
	r.t.Cleanup(n.Stop)
	r.nodes = append(r.nodes, n)
	return n
}

// grow starts count nodes: the first creates the ring, the others join it.
func (r *testRing) grow(count int, mutate func(*Config)) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < count; i++ {
		n := r.add(len(r.nodes), mutate)
		if len(r.nodes) == 1 {
			if err := n.Create(); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := n.Join(ctx, r.nodes[0].Address()); err != nil {
			r.t.Fatalf("join %s: %v", n.Name(), err)
		}
	}
}

// live returns the nodes that are members.
func (r *testRing) live() []*Node {
	var out []*Node
	for _, n := range r.nodes {
		if n.IsMember() {
			out = append(out, n)
		}
	}
	return out
}

// idealError checks the live nodes against the ideal ring.
func idealError(nodes []*Node) error { return ringcheck.Ideal(nodes, DefaultSuccessorCount) }
