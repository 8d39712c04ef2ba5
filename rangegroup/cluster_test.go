package rangegroup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
	"github.com/concord-kv/concord/transport"
	"github.com/concord-kv/concord/transport/raftwire"
)

// testCluster is a set of Stores on an in-memory network. Each node keeps
// its data in its own strict in-memory filesystem, so a crash can drop
// every write that was not synced.
type testCluster struct {
	t   *testing.T
	net *transport.MemNetwork
	cfg func(*Config)

	mu    sync.Mutex
	addrs map[string]string
	nodes []*testNode
}

type testNode struct {
	c    *testCluster
	name string
	ip   string
	fs   *vfs.MemFS

	mu     sync.Mutex // guards the fields below across restarts
	engine *storage.Engine
	store  *Store
	wire   *raftwire.Transport
	server *grpc.Server
}

func newTestCluster(t *testing.T, n int, cfg func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, net: transport.NewMemNetwork(1), cfg: cfg, addrs: make(map[string]string)}
	for i := range n {
		c.addNode(fmt.Sprintf("n%d", i+1))
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.stop()
		}
	})
	return c
}

func (c *testCluster) addNode(name string) *testNode {
	c.t.Helper()
	nd := &testNode{c: c, name: name, ip: fmt.Sprintf("127.0.1.%d", len(c.nodes)+1), fs: vfs.NewCrashableMem()}
	c.nodes = append(c.nodes, nd)
	nd.start()
	return nd
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

func (c *testCluster) resolve(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.addrs[name]
	return a, ok
}

// testPosition is the ring position the tests use: xxhash of the hash tag.
func testPosition(key []byte) uint64 { return xxhash.Sum64(kv.HashTag(key)) }

// storeHandler forwards to the node's current Store, which changes across
// restarts while the transport's handler cannot.
type storeHandler struct{ nd *testNode }

func (h storeHandler) HandleMessages(from string, msgs []raftwire.Message) {
	if s := h.nd.currentStore(); s != nil {
		s.HandleMessages(from, msgs)
	}
}

func (h storeHandler) HandleSnapshot(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error {
	s := h.nd.currentStore()
	if s == nil {
		return ErrStopped
	}
	return s.HandleSnapshot(ctx, from, header, next)
}

func (nd *testNode) currentStore() *Store {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.store
}

// start opens the node's engine and store and serves its transport.
func (nd *testNode) start() {
	t := nd.c.t
	t.Helper()
	host := nd.c.net.Host(nd.ip)
	lis, err := host.Listen(nd.ip + ":0")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := storage.Open("/data", storage.Options{FS: nd.fs})
	if err != nil {
		t.Fatalf("%s: open engine: %v", nd.name, err)
	}
	wire, err := raftwire.New(raftwire.Config{
		Node:    nd.name,
		Network: host,
		Resolve: nd.c.resolve,
		Handler: storeHandler{nd},
		OnUnreachable: func(node string) {
			if s := nd.currentStore(); s != nil {
				s.ReportUnreachable(node)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(nil)
	wire.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	cfg := Config{
		NodeName:      nd.name,
		Engine:        eng,
		Transport:     wire,
		Machine:       &kv.Machine{Limits: kv.DefaultLimits(), Position: testPosition},
		TickInterval:  20 * time.Millisecond,
		ElectionTicks: 10,
		RaftLogKeep:   50,
	}
	if nd.c.cfg != nil {
		nd.c.cfg(&cfg)
	}
	st, err := NewStore(cfg)
	if err != nil {
		t.Fatalf("%s: new store: %v", nd.name, err)
	}
	nd.mu.Lock()
	nd.engine, nd.store, nd.wire, nd.server = eng, st, wire, srv
	nd.mu.Unlock()
	nd.c.mu.Lock()
	nd.c.addrs[nd.name] = lis.Addr().String()
	nd.c.mu.Unlock()
}

// stop shuts the node down cleanly; its data stays.
func (nd *testNode) stop() {
	nd.mu.Lock()
	st, wire, srv, eng := nd.store, nd.wire, nd.server, nd.engine
	nd.store, nd.wire, nd.server, nd.engine = nil, nil, nil, nil
	nd.mu.Unlock()
	if st == nil {
		return
	}
	_ = st.Close()
	_ = wire.Close()
	srv.Stop()
	_ = eng.Close()
}

// crash stops the node and throws away every write it had not synced, as
// a power loss would.
func (nd *testNode) crash() {
	// The clone holds only what was synced when it was taken; the
	// engine's clean shutdown afterwards writes to the discarded original.
	image := nd.fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	nd.stop()
	nd.fs = image
}

func (nd *testNode) restart() {
	nd.start()
}

// createRange creates a range with voters on the named nodes.
func (c *testCluster) createRange(id, start, end uint64, nodes ...string) {
	c.t.Helper()
	d := &storagepb.RangeDescriptor{RangeId: id, Start: start, End: end, Generation: 1}
	for i, n := range nodes {
		d.Replicas = append(d.Replicas, &storagepb.ReplicaDescriptor{Node: n, ReplicaId: uint64(i + 1), Type: storagepb.ReplicaType_VOTER})
	}
	d.NextReplicaId = uint64(len(nodes) + 1)
	for _, n := range nodes {
		if err := c.node(n).currentStore().CreateRange(d); err != nil {
			c.t.Fatalf("create range %d on %s: %v", id, n, err)
		}
	}
}

// leader waits until a live node leads the range and returns it.
func (c *testCluster) leader(rangeID uint64) *testNode {
	c.t.Helper()
	var found *testNode
	await.Until(c.t, 20*time.Second, fmt.Sprintf("a leader of range %d", rangeID), func() error {
		for _, nd := range c.nodes {
			st := nd.currentStore()
			if st == nil {
				continue
			}
			if info, err := st.Range(rangeID); err == nil && info.IsLeader {
				found = nd
				return nil
			}
		}
		return errors.New("no leader")
	})
	return found
}

// put writes key=value through the range's current leader, retrying
// through leader changes until it is acknowledged.
func (c *testCluster) put(rangeID uint64, key, value string) *kvpb.Response {
	c.t.Helper()
	req := &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(key), Value: []byte(value)}}}
	return c.write(rangeID, req)
}

func (c *testCluster) write(rangeID uint64, req *kvpb.Request) *kvpb.Response {
	c.t.Helper()
	var resp *kvpb.Response
	await.Until(c.t, 30*time.Second, fmt.Sprintf("write to range %d", rangeID), func() error {
		ld := c.leader(rangeID)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st := ld.currentStore()
		if st == nil {
			return errors.New("leader stopped")
		}
		var err error
		resp, err = st.Write(ctx, rangeID, req)
		return err
	})
	return resp
}

// get reads key from a node's replica at a consistency level.
func (nd *testNode) get(rangeID uint64, level Consistency, key string) (*kvpb.ReadResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st := nd.currentStore()
	if st == nil {
		return nil, ErrStopped
	}
	return st.Read(ctx, rangeID, level, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: []byte(key)}}})
}

// valueOf returns the value of a single-key read, or an error for a
// missing key.
func valueOf(resp *kvpb.ReadResponse) (string, error) {
	if resp.GetCode() != kvpb.ErrorCode_OK || len(resp.Results) != 1 || resp.Results[0].Value == nil {
		return "", fmt.Errorf("read: code %v %s", resp.GetCode(), resp.GetMessage())
	}
	return string(resp.Results[0].Value.Value), nil
}

// keyIn returns a key named prefix-i whose position lies in arc.
func keyIn(arc kv.Arc, prefix string, i int) string {
	for j := 0; ; j++ {
		k := fmt.Sprintf("%s-%d-%d", prefix, i, j)
		if arc.Contains(testPosition([]byte(k))) {
			return k
		}
	}
}
