package ringsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/ring"
	"github.com/concord-kv/concord/transport"
)

// cluster owns the simulated nodes and the network they share.
//
// A node is live, for the observer, from the moment its Create or Join
// returns successfully until the simulation crashes it. Joiners still inside
// Join are not live yet: pointers to them are skipped like pointers to
// crashed nodes, which is sound because a joiner is not on the ring until
// its predecessor adopts it.
type cluster struct {
	cfg  Config
	net  *transport.MemNetwork
	hist *history

	mu     sync.Mutex
	next   int                 // index of the next node to start
	live   []*simNode          // joined and not crashed, in join order
	byName map[string]*simNode // every node ever started

	// stopping tracks nodes being shut down in the background after a
	// crash, so Close can wait for them.
	stopping sync.WaitGroup
}

func newCluster(cfg Config) *cluster {
	return &cluster{
		cfg:    cfg,
		net:    transport.NewMemNetwork(cfg.Seed),
		hist:   newHistory(),
		byName: make(map[string]*simNode),
	}
}

// start starts a fresh node on a fresh host. It is not in any ring yet.
func (c *cluster) start() (*simNode, error) {
	c.mu.Lock()
	i := c.next
	c.next++
	c.mu.Unlock()
	if i >= maxHosts {
		return nil, fmt.Errorf("ringsim: out of host addresses after %d nodes", maxHosts)
	}
	ip := hostIP(i)
	addr := fmt.Sprintf("%s:%d", ip, ringPort)
	rn, err := concord.StartRingNode(concord.RingNodeConfig{
		Ring: ring.Config{
			Name:              nodeName(i),
			BindAddr:          addr,
			Network:           c.net.Host(ip),
			StabilizeInterval: c.cfg.Interval,
			RPCTimeout:        c.cfg.RPCTimeout,
			LookupTimeout:     c.cfg.LookupTimeout,
			SuccessorCount:    c.cfg.SuccessorCount,
		},
		Gossip: c.cfg.Gossip,
		// No gossip Seeds: the simulation has no partitions to heal, and
		// seeds that churn later crashes would be re-joined, in vain, for
		// the rest of the run.
	})
	if err != nil {
		return nil, fmt.Errorf("ringsim: start %s: %w", nodeName(i), err)
	}
	s := &simNode{name: nodeName(i), ip: ip, addr: addr, node: rn, ring: rn.Ring()}
	c.mu.Lock()
	c.byName[s.name] = s
	c.mu.Unlock()
	return s, nil
}

// create makes s a ring of one.
func (c *cluster) create(s *simNode) error {
	now := time.Now()
	c.hist.begin(s.name, s.ring.Id(), now)
	if err := s.node.Create(); err != nil {
		return err
	}
	c.markLive(s)
	return nil
}

// join joins s through seeds, retrying with other live seeds up to attempts
// times. A node that cannot join is crashed (and recorded as such), so it
// never lingers half-joined.
func (c *cluster) join(ctx context.Context, s *simNode, rng *rand.Rand, attempts int) error {
	c.hist.begin(s.name, s.ring.Id(), time.Now())
	var errs []error
	for a := 0; a < attempts && ctx.Err() == nil; a++ {
		seeds := c.seeds(rng, 3)
		if len(seeds) == 0 {
			errs = append(errs, errors.New("no live seed"))
			break
		}
		jctx, cancel := context.WithTimeout(ctx, 2*c.cfg.LookupTimeout)
		err := s.node.Join(jctx, seeds...)
		cancel()
		if err == nil {
			c.markLive(s)
			return nil
		}
		errs = append(errs, err)
		if errors.Is(err, ring.ErrIDTaken) {
			break
		}
	}
	c.kill(s)
	return fmt.Errorf("ringsim: %s could not join: %w", s.name, errors.Join(errs...))
}

func (c *cluster) markLive(s *simNode) {
	now := time.Now()
	c.hist.joined(s.name, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = append(c.live, s)
}

// seeds returns the addresses of up to k distinct random live nodes.
func (c *cluster) seeds(rng *rand.Rand, k int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k = min(k, len(c.live))
	out := make([]string, 0, k)
	for _, i := range rng.Perm(len(c.live))[:k] {
		out = append(out, c.live[i].addr)
	}
	return out
}

// randomLive returns a random live node, or nil if none is.
func (c *cluster) randomLive(rng *rand.Rand) *simNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.live) == 0 {
		return nil
	}
	return c.live[rng.IntN(len(c.live))]
}

// liveNodes returns a copy of the live set.
func (c *cluster) liveNodes() []*simNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.live)
}

// liveCount returns the number of live nodes.
func (c *cluster) liveCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.live)
}

// crash kills s the way a machine dies: it leaves the live set and the
// history first (so the observer never expects it to answer again), then
// its host drops off the network (peers' connections reset, dials hang),
// then its goroutines are stopped in the background.
func (c *cluster) crash(s *simNode) {
	c.mu.Lock()
	c.live = slices.DeleteFunc(c.live, func(o *simNode) bool { return o == s })
	c.mu.Unlock()
	c.kill(s)
}

// kill records s as crashed and takes it down.
func (c *cluster) kill(s *simNode) {
	c.hist.crashed(s.name, time.Now())
	c.net.Crash(s.ip)
	c.stopping.Add(1)
	go func() {
		defer c.stopping.Done()
		s.node.Stop()
	}()
}

// close crashes every host at once, so no node spends effort repairing
// around the others' shutdown, then stops every node and waits for all of
// them.
func (c *cluster) close() {
	c.mu.Lock()
	all := make([]*simNode, 0, len(c.byName))
	for _, s := range c.byName {
		all = append(all, s)
	}
	c.live = nil
	c.mu.Unlock()
	for _, s := range all {
		c.net.Crash(s.ip)
	}
	sem := make(chan struct{}, 64)
	for _, s := range all {
		sem <- struct{}{}
		c.stopping.Add(1)
		go func() {
			defer func() { <-sem; c.stopping.Done() }()
			s.node.Stop()
		}()
	}
	c.stopping.Wait()
}

// snapshot reads the pointers of every live node.
func (c *cluster) snapshot() []nodeView {
	live := c.liveNodes()
	views := make([]nodeView, len(live))
	for i, s := range live {
		views[i] = s.view()
	}
	return views
}
