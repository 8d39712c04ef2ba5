package rebalance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
	"github.com/concord-kv/concord/transport"
	"github.com/concord-kv/concord/transport/raftwire"
)

// testCluster is a set of nodes, each a real rangegroup.Store on a
// crashable in-memory filesystem, talking raftwire over an in-memory
// network, each with its own Rebalancer. The View and the clock are fakes
// every node shares, so the test decides membership and time.
type testCluster struct {
	t     *testing.T
	net   *transport.MemNetwork
	view  *fakeView
	clock *fakeClock

	mu    sync.Mutex
	addrs map[string]string
	nodes []*testNode
}

type testNode struct {
	name string
	id   uint64
	ip   string
	fs   *vfs.MemFS

	mu     sync.Mutex
	engine *storage.Engine
	store  *rangegroup.Store
	wire   *raftwire.Transport
	server *grpc.Server
	rebal  *Rebalancer
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// handler forwards raftwire traffic to the node's Store, which is built
// after the transport it needs.
type handler struct{ nd *testNode }

func (h handler) HandleMessages(from string, msgs []raftwire.Message) {
	if s := h.nd.currentStore(); s != nil {
		s.HandleMessages(from, msgs)
	}
}

func (h handler) HandleSnapshot(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error {
	s := h.nd.currentStore()
	if s == nil {
		return rangegroup.ErrStopped
	}
	return s.HandleSnapshot(ctx, from, header, next)
}

func (nd *testNode) currentStore() *rangegroup.Store {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.store
}

func (nd *testNode) rebalancer() *Rebalancer {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.rebal
}

// testGrace is the grace period of the cluster test; only the fake clock
// ever gets past it.
const testGrace = time.Hour

func newTestCluster(t *testing.T) *testCluster {
	c := &testCluster{
		t:     t,
		net:   transport.NewMemNetwork(1),
		view:  &fakeView{},
		clock: newFakeClock(t0),
		addrs: make(map[string]string),
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.stop()
		}
	})
	return c
}

func (c *testCluster) resolve(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.addrs[name]
	return a, ok
}

// addNode starts a node (store, transport, rebalancer); it is not in the
// View until the test puts it there.
func (c *testCluster) addNode(name string, id uint64) *testNode {
	c.t.Helper()
	nd := &testNode{name: name, id: id, ip: fmt.Sprintf("127.0.2.%d", len(c.nodes)+1), fs: vfs.NewCrashableMem()}
	c.nodes = append(c.nodes, nd)
	c.start(nd)
	return nd
}

// start opens the node's engine (recovering what it holds), store,
// transport and rebalancer.
func (c *testCluster) start(nd *testNode) {
	t := c.t
	t.Helper()
	name := nd.name
	host := c.net.Host(nd.ip)
	lis, err := host.Listen(nd.ip + ":0")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := storage.Open("/data", storage.Options{FS: nd.fs})
	if err != nil {
		t.Fatalf("%s: open engine: %v", name, err)
	}
	wire, err := raftwire.New(raftwire.Config{
		Node:    name,
		Network: host,
		Resolve: c.resolve,
		Handler: handler{nd},
		OnUnreachable: func(peer string) {
			if s := nd.currentStore(); s != nil {
				s.ReportUnreachable(peer)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(nil)
	wire.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	st, err := rangegroup.NewStore(rangegroup.Config{
		NodeName:     name,
		Engine:       eng,
		Transport:    wire,
		Machine:      &kv.Machine{Limits: kv.DefaultLimits(), Position: func(k []byte) uint64 { return xxhash.Sum64(kv.HashTag(k)) }},
		TickInterval: 20 * time.Millisecond,
		RaftLogKeep:  50,
	})
	if err != nil {
		t.Fatalf("%s: new store: %v", name, err)
	}
	rb, err := New(Config{
		Self:          name,
		Store:         st,
		View:          c.view,
		Replicas:      3,
		Grace:         testGrace,
		Interval:      50 * time.Millisecond,
		ActionTimeout: 5 * time.Second,
		Now:           c.clock.Now,
		Logger:        slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name),
	})
	if err != nil {
		t.Fatal(err)
	}
	nd.mu.Lock()
	nd.engine, nd.store, nd.wire, nd.server, nd.rebal = eng, st, wire, srv, rb
	nd.mu.Unlock()
	c.mu.Lock()
	c.addrs[name] = lis.Addr().String()
	c.mu.Unlock()
	rb.Start()
}

// testWriter sends log lines to the test's log, shown when it fails.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// stop shuts the node down: rebalancer first, so no action outlives the
// store it uses.
func (nd *testNode) stop() {
	nd.mu.Lock()
	rb, st, wire, srv, eng := nd.rebal, nd.store, nd.wire, nd.server, nd.engine
	nd.rebal, nd.store, nd.wire, nd.server, nd.engine = nil, nil, nil, nil, nil
	nd.mu.Unlock()
	if st == nil {
		return
	}
	rb.Stop()
	_ = st.Close()
	_ = wire.Close()
	srv.Stop()
	_ = eng.Close()
}

// crash stops the node as a power loss would: every unsynced write is
// lost.
func (nd *testNode) crash() {
	image := nd.fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	nd.stop()
	nd.fs = image
}

func (c *testCluster) node(name string) *testNode {
	for _, nd := range c.nodes {
		if nd.name == name {
			return nd
		}
	}
	c.t.Fatalf("no node %s", name)
	return nil
}

// triggerAll wakes every running rebalancer, as a membership event would.
func (c *testCluster) triggerAll() {
	for _, nd := range c.nodes {
		if rb := nd.rebalancer(); rb != nil {
			rb.Trigger()
		}
	}
}

// leaderViews returns, for every range the running nodes know of, the
// view of the replica that leads it with the newest descriptor. It fails
// if some range has no leader on a running node.
func (c *testCluster) leaderViews() ([]rangegroup.RangeInfo, error) {
	newest := map[uint64]uint64{} // range id -> highest generation seen
	leaders := map[uint64]rangegroup.RangeInfo{}
	for _, nd := range c.nodes {
		st := nd.currentStore()
		if st == nil {
			continue
		}
		for _, info := range st.Ranges() {
			if info.Descriptor == nil {
				continue
			}
			// A replica that was removed may not know it yet: only the
			// newest descriptor of each range counts.
			newest[info.RangeID] = max(newest[info.RangeID], info.Descriptor.Generation)
			if !info.IsLeader {
				continue
			}
			if prev, ok := leaders[info.RangeID]; !ok || info.Term > prev.Term {
				leaders[info.RangeID] = info
			}
		}
	}
	var out []rangegroup.RangeInfo
	for id, gen := range newest {
		info, ok := leaders[id]
		if !ok || info.Descriptor.Generation != gen {
			return nil, fmt.Errorf("range %d has no leader with its newest descriptor", id)
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b rangegroup.RangeInfo) int { return cmp.Compare(a.Descriptor.End, b.Descriptor.End) })
	return out, nil
}

// placed reports whether the cluster satisfies the placement rule for the
// View's members: ranges tile the circle, each led by a node for which it
// is InPlacement.
func (c *testCluster) placed() error {
	infos, err := c.leaderViews()
	if err != nil {
		return err
	}
	if err := tiles(infos); err != nil {
		return err
	}
	members := c.view.Members()
	if err := boundariesAtMembers(infos, presentMembers(members, c.clock.Now(), testGrace)); err != nil {
		return err
	}
	for _, info := range infos {
		cfg := PlanConfig{Self: info.Leader, Replicas: 3, Grace: testGrace, Now: c.clock.Now()}
		if !InPlacement(info, members, cfg) {
			want := Placement(info.Descriptor.End, members, 3, cfg.Now, testGrace)
			return fmt.Errorf("%s led by %s, want replicas %v led by %s", describe(info.Descriptor), info.Leader, names(want), names(want)[0])
		}
	}
	return nil
}

// boundariesAtMembers checks that, with more than one range, every range
// ends at a present member's id: ranges that met at a departed member's
// id have merged.
func boundariesAtMembers(infos []rangegroup.RangeInfo, present []Member) error {
	if len(infos) < 2 {
		return nil
	}
	ids := make(map[uint64]bool, len(present))
	for _, m := range present {
		ids[m.ID] = true
	}
	for _, info := range infos {
		if !ids[info.Descriptor.End] {
			return fmt.Errorf("%s ends where no member is: a merge is pending", describe(info.Descriptor))
		}
	}
	return nil
}

// tiles checks that ranges ordered by end cover the circle exactly once.
func tiles(infos []rangegroup.RangeInfo) error {
	if len(infos) == 0 {
		return errors.New("no ranges")
	}
	if len(infos) == 1 {
		if d := infos[0].Descriptor; d.Start != d.End {
			return fmt.Errorf("the only range %s does not cover the circle", describe(d))
		}
		return nil
	}
	for i, info := range infos {
		prev := infos[(i+len(infos)-1)%len(infos)].Descriptor
		if d := info.Descriptor; d.Start != prev.End || d.Start == d.End {
			return fmt.Errorf("%s does not follow %s", describe(d), describe(prev))
		}
	}
	return nil
}

// replicaSets maps each range id to its replica set, from its leader.
func (c *testCluster) replicaSets() (map[uint64]string, error) {
	infos, err := c.leaderViews()
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]string)
	for _, info := range infos {
		out[info.RangeID] = replicaSet(info.Descriptor)
	}
	return out, nil
}

// holdsReplica returns a descriptor that lists node as a replica, if any.
func holdsReplica(infos []rangegroup.RangeInfo, node string) *storagepb.RangeDescriptor {
	for _, info := range infos {
		for _, rd := range info.Descriptor.Replicas {
			if rd.Node == node {
				return info.Descriptor
			}
		}
	}
	return nil
}
