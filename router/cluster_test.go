package router

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
	"github.com/concord-kv/concord/transport"
	"github.com/concord-kv/concord/transport/raftwire"
)

// testCluster is a set of nodes on an in-memory network, each with a
// storage engine on a strict in-memory filesystem, a raftwire transport, a
// rangegroup Store, a Router, and one gRPC server for the raft streams and
// the Forward service.
type testCluster struct {
	t   *testing.T
	net *transport.MemNetwork

	mu     sync.Mutex
	addrs  map[string]string
	ranges []*storagepb.RangeDescriptor // as created by the test
	nodes  []*testNode
	// ringSays, if set, overrides the ring's answer.
	ringSays string
}

type testNode struct {
	name   string
	ip     string
	engine *storage.Engine
	store  *rangegroup.Store
	wire   *raftwire.Transport
	pool   *transport.Pool
	server *grpc.Server
	router *Router
	reg    *prometheus.Registry
}

func newTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t, net: transport.NewMemNetwork(1), addrs: make(map[string]string)}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.stop()
		}
	})
	for i := range n {
		c.addNode(fmt.Sprintf("n%d", i+1))
	}
	return c
}

func (c *testCluster) resolve(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.addrs[name]
	return a, ok
}

// testPosition is the ring position the tests use: xxhash of the hash tag.
func testPosition(key []byte) uint64 { return xxhash.Sum64(kv.HashTag(key)) }

// owner plays the ring: the first replica the test listed for the range
// it created over pos. It is not always the leader, and after a split it
// names a node that holds the new range under a different id.
func (c *testCluster) owner(_ context.Context, pos uint64) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ringSays != "" {
		return c.ringSays, nil
	}
	for _, d := range c.ranges {
		if arcOf(d).Contains(pos) {
			return d.Replicas[0].Node, nil
		}
	}
	return "", errors.New("no node owns the position")
}

func (c *testCluster) addNode(name string) *testNode {
	t := c.t
	t.Helper()
	nd := &testNode{name: name, ip: fmt.Sprintf("127.0.2.%d", len(c.nodes)+1), reg: prometheus.NewRegistry()}
	c.nodes = append(c.nodes, nd)
	host := c.net.Host(nd.ip)
	lis, err := host.Listen(nd.ip + ":0")
	if err != nil {
		t.Fatal(err)
	}
	if nd.engine, err = storage.Open("/data", storage.Options{FS: vfs.NewCrashableMem()}); err != nil {
		t.Fatalf("%s: open engine: %v", name, err)
	}
	var store *rangegroup.Store
	var storeMu sync.Mutex
	handler := storeHandler{get: func() *rangegroup.Store { storeMu.Lock(); defer storeMu.Unlock(); return store }}
	nd.wire, err = raftwire.New(raftwire.Config{Node: name, Network: host, Resolve: c.resolve, Handler: handler,
		OnUnreachable: func(node string) {
			if s := handler.get(); s != nil {
				s.ReportUnreachable(node)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	nd.store, err = rangegroup.NewStore(rangegroup.Config{
		NodeName:     name,
		Engine:       nd.engine,
		Transport:    nd.wire,
		Machine:      &kv.Machine{Limits: kv.DefaultLimits(), Position: testPosition},
		TickInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("%s: new store: %v", name, err)
	}
	storeMu.Lock()
	store = nd.store
	storeMu.Unlock()
	nd.pool = transport.NewPool(transport.PoolConfig{Network: host})
	nd.router, err = New(Config{
		Self:               name,
		Store:              nd.store,
		Position:           testPosition,
		Owner:              c.owner,
		Resolve:            c.resolve,
		Pool:               nd.pool,
		BackoffMin:         5 * time.Millisecond,
		BackoffMax:         100 * time.Millisecond,
		ReadAttemptTimeout: 500 * time.Millisecond,
		Registerer:         nd.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	nd.server = transport.NewServer(nil, ServerOptions()...)
	nd.wire.Register(nd.server)
	nd.router.Register(nd.server)
	go func() { _ = nd.server.Serve(lis) }()
	c.mu.Lock()
	c.addrs[name] = lis.Addr().String()
	c.mu.Unlock()
	return nd
}

func (nd *testNode) stop() {
	_ = nd.store.Close()
	_ = nd.wire.Close()
	nd.server.Stop()
	_ = nd.pool.Close()
	_ = nd.engine.Close()
}

// storeHandler hands raft traffic to the node's Store once it exists.
type storeHandler struct{ get func() *rangegroup.Store }

func (h storeHandler) HandleMessages(from string, msgs []raftwire.Message) {
	if s := h.get(); s != nil {
		s.HandleMessages(from, msgs)
	}
}

func (h storeHandler) HandleSnapshot(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error {
	s := h.get()
	if s == nil {
		return rangegroup.ErrStopped
	}
	return s.HandleSnapshot(ctx, from, header, next)
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

// createRange creates a range (start, end] with voters on the named nodes.
func (c *testCluster) createRange(id, start, end uint64, nodes ...string) *storagepb.RangeDescriptor {
	c.t.Helper()
	d := &storagepb.RangeDescriptor{RangeId: id, Start: start, End: end, Generation: 1, NextReplicaId: uint64(len(nodes) + 1)}
	for i, n := range nodes {
		d.Replicas = append(d.Replicas, &storagepb.ReplicaDescriptor{Node: n, ReplicaId: uint64(i + 1), Type: storagepb.ReplicaType_VOTER})
	}
	for _, n := range nodes {
		if err := c.node(n).store.CreateRange(d); err != nil {
			c.t.Fatalf("create range %d on %s: %v", id, n, err)
		}
	}
	c.mu.Lock()
	c.ranges = append(c.ranges, d)
	c.mu.Unlock()
	return d
}

// leader waits until some node leads the range and returns it.
func (c *testCluster) leader(rangeID uint64) *testNode {
	c.t.Helper()
	var found *testNode
	await.Until(c.t, 20*time.Second, fmt.Sprintf("a leader of range %d", rangeID), func() error {
		for _, nd := range c.nodes {
			if info, err := nd.store.Range(rangeID); err == nil && info.IsLeader {
				found = nd
				return nil
			}
		}
		return errors.New("no leader")
	})
	return found
}

// lead moves the leadership of a range to the named node.
func (c *testCluster) lead(rangeID uint64, name string) {
	c.t.Helper()
	await.Until(c.t, 20*time.Second, fmt.Sprintf("%s leads range %d", name, rangeID), func() error {
		ld := c.leader(rangeID)
		if ld.name == name {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return ld.store.TransferLeadership(ctx, rangeID, name)
	})
}

// Three ranges tiling the circle; the last wraps through zero.
var (
	third  = uint64(math.MaxUint64 / 3)
	arcs   = []kv.Arc{{Start: 0, End: third}, {Start: third, End: 2 * third}, {Start: 2 * third, End: 0}}
	leadBy = []string{"n1", "n2", "n3"}
)

// threeRanges creates ranges 1..3 over arcs on n1..n3, led by n1, n2, n3.
// The replica lists start with the node after the leader, so the test
// ring's owner is never the leader.
func (c *testCluster) threeRanges() {
	c.t.Helper()
	names := []string{"n1", "n2", "n3"}
	for i, a := range arcs {
		c.createRange(uint64(i+1), a.Start, a.End, names[(i+1)%3], names[(i+2)%3], names[i])
	}
	for i := range arcs {
		c.lead(uint64(i+1), leadBy[i])
	}
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

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func putReq(key, value string) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(key), Value: []byte(value)}}}
}

func getReq(key string) *kvpb.ReadRequest {
	return &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: []byte(key)}}}
}

// put writes through a node's router and fails the test on error.
func (nd *testNode) put(t *testing.T, key, value string) *kvpb.Response {
	t.Helper()
	resp, err := nd.router.Write(testCtx(t, 10*time.Second), putReq(key, value))
	if err != nil {
		t.Fatalf("put %s via %s: %v", key, nd.name, err)
	}
	if resp.GetCode() != kvpb.ErrorCode_OK {
		t.Fatalf("put %s via %s: %v %s", key, nd.name, resp.GetCode(), resp.GetMessage())
	}
	return resp
}

// get reads key through a node's router at a level.
func (nd *testNode) get(t *testing.T, level rangegroup.Consistency, key string) (string, error) {
	t.Helper()
	resp, err := nd.router.Read(testCtx(t, 10*time.Second), level, getReq(key))
	if err != nil {
		return "", err
	}
	return valueOf(resp)
}

// count reads one counter of a vector.
func count(t *testing.T, v *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	var m dto.Metric
	if err := v.WithLabelValues(labels...).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// valueOf returns the value of a single-key read.
func valueOf(resp *kvpb.ReadResponse) (string, error) {
	if resp.GetCode() != kvpb.ErrorCode_OK || len(resp.GetResults()) != 1 {
		return "", fmt.Errorf("read: %v %s", resp.GetCode(), resp.GetMessage())
	}
	return string(resp.GetResults()[0].GetValue().GetValue()), nil
}
