package concord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/membership"
	"github.com/concord-kv/concord/transport"
)

// kvCluster is a set of Nodes in one process on an in-memory network, each
// with its data in its own crashable in-memory filesystem.
type kvCluster struct {
	t        testing.TB
	net      *transport.MemNetwork
	replicas int
	grace    time.Duration

	mu    sync.Mutex
	nodes []*kvNode
}

type kvNode struct {
	name string
	ip   string
	fs   *vfs.MemFS
	node *Node // nil while down
}

func newKVCluster(t testing.TB) *kvCluster {
	c := &kvCluster{t: t, net: transport.NewMemNetwork(1), replicas: 3, grace: 3 * time.Second}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.node != nil {
				n.node.shutdown(false)
			}
		}
	})
	return c
}

func (c *kvCluster) config(n *kvNode, seeds []string) Config {
	return Config{
		Name:              n.name,
		BindAddr:          n.ip + ":7946",
		Seeds:             seeds,
		DataDir:           "/data",
		FS:                n.fs,
		Network:           c.net.Host(n.ip),
		Replicas:          c.replicas,
		ReplaceAfter:      c.grace,
		TickInterval:      40 * time.Millisecond,
		StabilizeInterval: 100 * time.Millisecond,
		Gossip:            membership.FastTiming(),
		RequestTimeout:    5 * time.Second,
	}
}

// add starts a new node, joining through the first live node.
func (c *kvCluster) add() *kvNode {
	c.t.Helper()
	n := &kvNode{name: fmt.Sprintf("n%d", len(c.nodes)+1), ip: fmt.Sprintf("127.0.2.%d", len(c.nodes)+1), fs: vfs.NewCrashableMem()}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	c.start(n, c.seeds(n))
	return n
}

func (c *kvCluster) seeds(except *kvNode) []string {
	var seeds []string
	for _, o := range c.nodes {
		if o != except && o.node != nil {
			seeds = append(seeds, o.ip+":7946")
		}
	}
	return seeds
}

func (c *kvCluster) start(n *kvNode, seeds []string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := Open(ctx, c.config(n, seeds))
	if err != nil {
		c.t.Fatalf("open %s: %v", n.name, err)
	}
	c.mu.Lock()
	n.node = node
	c.mu.Unlock()
}

// live returns the running nodes.
func (c *kvCluster) live() []*kvNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*kvNode
	for _, n := range c.nodes {
		if n.node != nil {
			out = append(out, n)
		}
	}
	return out
}

// leave closes a node gracefully.
func (c *kvCluster) leave(n *kvNode) {
	c.t.Helper()
	if err := n.node.Close(); err != nil {
		c.t.Logf("%s: close: %v", n.name, err)
	}
	c.mu.Lock()
	n.node = nil
	c.mu.Unlock()
}

// crash kills a node: its network host goes dark and its unsynced writes
// are lost.
func (c *kvCluster) crash(n *kvNode) {
	// Cut the network first: a node still talking could acknowledge log
	// entries after the disk image is taken, which no real crash allows.
	c.net.Crash(n.ip)
	image := n.fs.CrashClone(vfs.CrashCloneCfg{})
	n.node.shutdown(false)
	c.mu.Lock()
	n.node, n.fs = nil, image
	c.mu.Unlock()
}

// restart brings a crashed or closed node back on its data directory.
func (c *kvCluster) restart(n *kvNode, seeds []string) {
	c.t.Helper()
	c.net.Restart(n.ip)
	c.start(n, seeds)
}

// placementError checks, from one node's cluster status, that the ranges
// tile the circle and that each has exactly the replicas and leader the
// placement rule names for the live nodes.
func (c *kvCluster) placementError() error {
	live := c.live()
	if len(live) == 0 {
		return errors.New("no live node")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := live[0].node.Status(ctx)
	if err != nil {
		return err
	}
	if len(st.Unreachable) > 0 {
		return fmt.Errorf("unreachable: %v", st.Unreachable)
	}
	type member struct {
		name string
		id   uint64
	}
	var ring []member
	for _, n := range live {
		ring = append(ring, member{n.name, n.node.Ring().Id()})
	}
	sort.Slice(ring, func(i, j int) bool { return ring[i].id < ring[j].id })
	want := func(end uint64) []string {
		i := sort.Search(len(ring), func(i int) bool { return ring[i].id >= end })
		var names []string
		for k := range min(c.replicas, len(ring)) {
			names = append(names, ring[(i+k)%len(ring)].name)
		}
		return names
	}
	ranges := st.Ranges
	if len(ranges) == 0 {
		return errors.New("no ranges")
	}
	// Every member's id ends a range: the range it joined was split there.
	ends := make(map[uint64]bool, len(ranges))
	for _, r := range ranges {
		ends[r.End] = true
	}
	ids := make(map[uint64]bool, len(ring))
	for _, m := range ring {
		ids[m.id] = true
		if !ends[m.id] && !(len(ranges) == 1 && ranges[0].Start == ranges[0].End) {
			return fmt.Errorf("no range ends at %s's id %x", m.name, m.id)
		}
	}
	// And only members' ids end ranges: the ranges that met at a departed
	// member's id have merged.
	for _, r := range ranges {
		if len(ranges) > 1 && !ids[r.End] {
			return fmt.Errorf("range %d ends at %x, where no member is: a merge is pending", r.RangeId, r.End)
		}
	}
	// Sorted by end: each range starts where the previous one ended, and
	// the first starts where the last ends (wrapping).
	for i, r := range ranges {
		prev := ranges[(i+len(ranges)-1)%len(ranges)]
		if r.Start != prev.End {
			return fmt.Errorf("range %d starts at %x, previous ends at %x", r.RangeId, r.Start, prev.End)
		}
		var got []string
		for _, rep := range r.Replicas {
			if rep.Type != "voter" {
				return fmt.Errorf("range %d still has learner %s", r.RangeId, rep.Node)
			}
			got = append(got, rep.Node)
		}
		w := want(r.End)
		if !sameSet(got, w) {
			return fmt.Errorf("range %d (%x, %x] on %v, want %v", r.RangeId, r.Start, r.End, got, w)
		}
		if r.Leader != w[0] {
			return fmt.Errorf("range %d led by %q, want %s", r.RangeId, r.Leader, w[0])
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// writer puts keys one after another through random live nodes and
// remembers which were acknowledged.
type writer struct {
	c     *kvCluster
	mu    sync.Mutex
	acked map[string]string
	stop  chan struct{}
	done  chan struct{}
}

func (c *kvCluster) startWriter() *writer {
	w := &writer{c: c, acked: make(map[string]string), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			live := c.live()
			if len(live) == 0 {
				continue
			}
			n := live[i%len(live)].node
			k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err := n.Put(ctx, []byte(k), []byte(v))
			cancel()
			if err == nil {
				w.mu.Lock()
				w.acked[k] = v
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *writer) halt() map[string]string {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return clone(w.acked)
}

func (w *writer) snapshot() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return clone(w.acked)
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// checkAcked reads every acknowledged key with strong consistency through
// live nodes, in batches.
func (c *kvCluster) checkAcked(acked map[string]string) {
	c.t.Helper()
	keys := make([][]byte, 0, len(acked))
	for k := range acked {
		keys = append(keys, []byte(k))
	}
	for i := 0; i < len(keys); i += 500 {
		batch := keys[i:min(i+500, len(keys))]
		var got []*KeyValue
		var via string
		await.Until(c.t, 30*time.Second, "strong reads of acknowledged keys", func() error {
			live := c.live()
			n := live[(i/500)%len(live)]
			via = n.name
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var err error
			got, err = n.node.GetMany(ctx, batch, WithConsistency(Strong))
			return err
		})
		for j, kv := range got {
			k := string(batch[j])
			if kv == nil || string(kv.Value) != acked[k] {
				c.t.Fatalf("%s via %s = %v, want %q", k, via, kv, acked[k])
			}
		}
	}
}
