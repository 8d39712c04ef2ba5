package concord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"

	"github.com/concord-kv/concord/membership"
	"github.com/concord-kv/concord/ring"
	"github.com/concord-kv/concord/ring/ringcheck"
	"github.com/concord-kv/concord/transport"
)

type gossipRing struct {
	t     *testing.T
	net   *transport.MemNetwork
	nodes []*RingNode
	ips   []string
}

func ip(i int) string { return fmt.Sprintf("127.5.0.%d", i+1) }

// startGossipRing starts count RingNodes on an in-memory network; node 0
// creates the ring and the others join through it.
func startGossipRing(t *testing.T, count int, stabilize time.Duration) *gossipRing {
	t.Helper()
	g := &gossipRing{t: t, net: transport.NewMemNetwork(7)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range count {
		n := g.start(fmt.Sprintf("g%d", i), ip(i), stabilize, nil)
		g.nodes = append(g.nodes, n)
		g.ips = append(g.ips, ip(i))
		if i == 0 {
			if err := n.Create(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := n.Join(ctx, ip(0)+":7000"); err != nil {
			t.Fatalf("join g%d: %v", i, err)
		}
	}
	return g
}

// start starts a RingNode on host hostIP of the ring's network, seeded
// with node 0's address; id, if set, overrides the hashed name.
func (g *gossipRing) start(name, hostIP string, stabilize time.Duration, id *uint64) *RingNode {
	g.t.Helper()
	n, err := StartRingNode(RingNodeConfig{
		Ring: ring.Config{
			Name:              name,
			ID:                id,
			BindAddr:          hostIP + ":7000",
			Network:           g.net.Host(hostIP),
			StabilizeInterval: stabilize,
			RPCTimeout:        time.Second,
		},
		Gossip:         membership.FastTiming(),
		Seeds:          []string{ip(0) + ":7000"},
		RejoinInterval: 500 * time.Millisecond,
	})
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(n.Stop)
	return n
}

func ringsOf(nodes []*RingNode) []*ring.Node {
	out := make([]*ring.Node, len(nodes))
	for i, n := range nodes {
		out[i] = n.Ring()
	}
	return out
}

// With stabilization driven by hand (and not run after the crash), only
// gossip can remove a crashed node from successor lists: it must do so
// within twice memberlist's detection time.
func TestGossipRemovesCrashedNode(t *testing.T) {
	t.Parallel()
	g := startGossipRing(t, 5, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	live := ringsOf(g.nodes)
	await.Until(t, 30*time.Second, "ideal ring", func() error {
		for _, n := range live {
			n.Stabilize(ctx)
		}
		return ringcheck.Ideal(live, ring.DefaultSuccessorCount)
	})
	await.Until(t, 30*time.Second, "gossip converged", func() error {
		for _, n := range g.nodes {
			if got := len(n.Members().Members()); got != len(g.nodes) {
				return fmt.Errorf("%s sees %d members", n.Ring().Name(), got)
			}
		}
		return nil
	})
	victim := g.nodes[3]
	bound := 2 * g.nodes[0].Members().DetectionTime()
	crashed := time.Now()
	g.net.Crash(g.ips[3])
	victim.Stop()
	survivors := slices.Delete(slices.Clone(g.nodes), 3, 4)
	await.Until(t, bound, "crashed node gone from every successor list", func() error {
		for _, n := range survivors {
			for _, s := range n.Ring().Successors() {
				if s.Name == victim.Ring().Name() {
					return fmt.Errorf("%s still lists %s", n.Ring().Name(), s.Name)
				}
			}
		}
		return nil
	})
	t.Logf("removed %v after the crash (bound %v)", time.Since(crashed), bound)
}

// Chord alone cannot merge two rings. After a partition long enough for
// each side to form its own ring, healing must give one ring again.
func TestPartitionHealsIntoOneRing(t *testing.T) {
	t.Parallel()
	g := startGossipRing(t, 6, 30*time.Millisecond)
	all := ringsOf(g.nodes)
	await.Until(t, 30*time.Second, "ideal ring", func() error { return ringcheck.Ideal(all, ring.DefaultSuccessorCount) })

	sideA, sideB := all[:3], all[3:]
	g.net.Partition(g.ips[:3], g.ips[3:])
	await.Until(t, 40*time.Second, "two separate rings", func() error {
		if err := ringcheck.Ideal(sideA, ring.DefaultSuccessorCount); err != nil {
			return fmt.Errorf("side A: %w", err)
		}
		return ringcheck.Ideal(sideB, ring.DefaultSuccessorCount)
	})
	g.net.HealAll()
	await.Until(t, 60*time.Second, "one ring after healing", func() error { return ringcheck.Ideal(all, ring.DefaultSuccessorCount) })
	for _, n := range all {
		owner, err := n.Lookup([]byte("healed"))
		if err != nil {
			t.Fatal(err)
		}
		if want := ringcheck.Owner(all, n.Position([]byte("healed"))); owner.Name != want.Name() {
			t.Fatalf("%s says %s owns the key, want %s", n.Name(), owner.Name, want.Name())
		}
	}
}

func TestRingNodeGracefulLeave(t *testing.T) {
	t.Parallel()
	g := startGossipRing(t, 4, 30*time.Millisecond)
	all := ringsOf(g.nodes)
	await.Until(t, 30*time.Second, "ideal ring", func() error { return ringcheck.Ideal(all, ring.DefaultSuccessorCount) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.nodes[2].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	rest := slices.Delete(slices.Clone(all), 2, 3)
	await.Until(t, 30*time.Second, "ideal ring after leave", func() error { return ringcheck.Ideal(rest, ring.DefaultSuccessorCount) })
}

// A node that crashes and comes back under the same name at a new address
// rejoins the ring; nobody keeps pointing at the old address.
func TestRestartAtNewAddress(t *testing.T) {
	t.Parallel()
	g := startGossipRing(t, 4, 30*time.Millisecond)
	all := ringsOf(g.nodes)
	await.Until(t, 30*time.Second, "ideal ring", func() error { return ringcheck.Ideal(all, ring.DefaultSuccessorCount) })

	old := g.nodes[2]
	g.net.Crash(g.ips[2])
	old.Stop()
	back := g.start(old.Ring().Name(), ip(20), 30*time.Millisecond, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := back.Join(ctx, ip(0)+":7000"); err != nil {
		t.Fatal(err)
	}
	now := []*ring.Node{all[0], all[1], back.Ring(), all[3]}
	await.Until(t, 60*time.Second, "ideal ring with the restarted node", func() error {
		if err := ringcheck.Ideal(now, ring.DefaultSuccessorCount); err != nil {
			return err
		}
		for _, n := range now {
			for _, s := range n.Successors() {
				if s.Name == back.Ring().Name() && s.Address != back.Ring().Address() {
					return fmt.Errorf("%s still points at the old address %s", n.Name(), s.Address)
				}
			}
		}
		return nil
	})
}

// Two nodes may not share an id: the second is refused, and the ring is
// left as it was.
func TestRingNodeRefusesTakenID(t *testing.T) {
	t.Parallel()
	g := startGossipRing(t, 3, 30*time.Millisecond)
	all := ringsOf(g.nodes)
	await.Until(t, 30*time.Second, "ideal ring", func() error { return ringcheck.Ideal(all, ring.DefaultSuccessorCount) })
	taken := all[1].Id()
	dup := g.start("dup", ip(30), 30*time.Millisecond, &taken)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dup.Join(ctx, ip(0)+":7000"); !errors.Is(err, ring.ErrIDTaken) {
		t.Fatalf("join with a taken id: %v, want ring.ErrIDTaken", err)
	}
	if err := ringcheck.Ideal(all, ring.DefaultSuccessorCount); err != nil {
		t.Fatal(err)
	}
}
