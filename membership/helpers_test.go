package membership

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/transport"
)

// gossipPort is the gossip port every in-memory test host binds.
const gossipPort = 7946

// testTimeout bounds each test; conditions are awaited within it.
const testTimeout = 30 * time.Second

// testLogger logs to stderr when CONCORD_TEST_LOG is set (for debugging a
// failing test), and discards otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("CONCORD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// recorded is an event with the time the test's consumer received it.
type recorded struct {
	Event
	at time.Time
}

// recorder drains a node's Events channel into a list, so tests can ask what
// a node has seen without blocking its delivery.
type recorder struct {
	mu     sync.Mutex
	events []recorded
	done   chan struct{}
}

// record starts draining ch until it is closed.
func record(ch <-chan Event) *recorder {
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for e := range ch {
			r.mu.Lock()
			r.events = append(r.events, recorded{Event: e, at: time.Now()})
			r.mu.Unlock()
		}
	}()
	return r
}

// find returns the first event of kind about name matching ok (nil: any).
func (r *recorder) find(kind EventKind, name string, ok func(Member) bool) (recorded, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Kind == kind && e.Member.Name == name && (ok == nil || ok(e.Member)) {
			return e, true
		}
	}
	return recorded{}, false
}

// count returns how many events of kind about name were received.
func (r *recorder) count(kind EventKind, name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind && e.Member.Name == name {
			n++
		}
	}
	return n
}

// testNode is one member of an in-memory test cluster.
type testNode struct {
	name string
	ip   string
	addr string
	m    *Membership
	rec  *recorder // nil when the test drains Events itself
}

// cluster is a set of nodes on one private MemNetwork.
type cluster struct {
	t   *testing.T
	net *transport.MemNetwork
}

// newCluster returns an empty cluster on a fresh network.
func newCluster(t *testing.T, seed int64) *cluster {
	return &cluster{t: t, net: transport.NewMemNetwork(seed)}
}

// hostIP returns the address of test host i: 127.1.0.i.
func hostIP(i int) string { return fmt.Sprintf("127.1.0.%d", i) }

// start starts node name on host ip with FastTiming, recording its events
// unless drain is false. edit, if non-nil, adjusts the config. The node is
// shut down when the test ends.
func (c *cluster) start(name, ip string, drain bool, edit func(*Config)) *testNode {
	c.t.Helper()
	cfg := Config{
		Name:           name,
		BindAddr:       fmt.Sprintf("%s:%d", ip, gossipPort),
		Network:        c.net.Host(ip),
		Meta:           map[string]string{"ip": ip},
		Timing:         FastTiming(),
		RejoinInterval: 250 * time.Millisecond,
		Logger:         testLogger().With("test", c.t.Name()),
	}
	if edit != nil {
		edit(&cfg)
	}
	m, err := Start(cfg)
	if err != nil {
		c.t.Fatalf("Start(%s): %v", name, err)
	}
	n := &testNode{name: name, ip: ip, addr: cfg.BindAddr, m: m}
	if drain {
		n.rec = record(m.Events())
	}
	c.t.Cleanup(func() {
		_ = m.Shutdown()
		if n.rec != nil {
			<-n.rec.done
		}
	})
	return n
}

// startN starts nodes n1..nk on hosts 127.1.0.1..k, each seeded with every
// node's address, and joins them all to n1.
func (c *cluster) startN(ctx context.Context, k int) []*testNode {
	c.t.Helper()
	var seeds []string
	for i := 1; i <= k; i++ {
		seeds = append(seeds, fmt.Sprintf("%s:%d", hostIP(i), gossipPort))
	}
	var nodes []*testNode
	for i := 1; i <= k; i++ {
		nodes = append(nodes, c.start(fmt.Sprintf("n%d", i), hostIP(i), true, func(cfg *Config) {
			cfg.Seeds = seeds
		}))
	}
	for _, n := range nodes[1:] {
		if _, err := n.m.Join(ctx, nodes[0].addr); err != nil {
			c.t.Fatalf("%s Join: %v", n.name, err)
		}
	}
	waitConverged(ctx, c.t, nodes, nodes)
	return nodes
}

// waitUntil polls cond every 10ms until it holds, failing the test if ctx
// ends first.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		case <-tick.C:
		}
	}
}

// names returns the member names, sorted (Members already sorts).
func names(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// nodeNames returns the test nodes' names, sorted.
func nodeNames(nodes []*testNode) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.name
	}
	slices.Sort(out)
	return out
}

// waitConverged waits until every observer's live members are exactly want.
func waitConverged(ctx context.Context, t *testing.T, observers, want []*testNode) {
	t.Helper()
	wantNames := nodeNames(want)
	for _, o := range observers {
		waitUntil(ctx, t, fmt.Sprintf("%s sees %v", o.name, wantNames), func() bool {
			return slices.Equal(names(o.m.Members()), wantNames)
		})
	}
}

// testContext returns a context bounded by testTimeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}
