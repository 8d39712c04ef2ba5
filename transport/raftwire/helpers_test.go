package raftwire

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/transport"
)

// testCtx returns a context that ends after d or when the test ends.
func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// Generous bounds for eventual conditions: the race detector and parallel
// tests on two cores slow everything down by an order of magnitude.
const eventually = 20 * time.Second

// cluster is a set of transports on one in-memory network, each served by
// its own gRPC server; node names resolve through the cluster.
type cluster struct {
	t   testing.TB
	net *transport.MemNetwork

	mu    sync.Mutex
	addrs map[string]string
}

func newCluster(t testing.TB) *cluster {
	return &cluster{t: t, net: transport.NewMemNetwork(1), addrs: make(map[string]string)}
}

func (c *cluster) resolve(node string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.addrs[node]
	return a, ok
}

// node is one member of a cluster.
type node struct {
	name string
	ip   string
	tr   *Transport
	rec  *recorder
	srv  *grpc.Server
	// stop closes the transport and the server (also run at cleanup).
	stop func()
}

// add starts node name on host ip; mutate may adjust its Config.
func (c *cluster) add(name, ip string, mutate func(*Config)) *node {
	c.t.Helper()
	rec := newRecorder()
	cfg := Config{
		Node:          name,
		Network:       c.net.Host(ip),
		Resolve:       c.resolve,
		Handler:       rec,
		OnUnreachable: rec.unreachable,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return c.serve(cfg, rec, ip+":7000")
}

// serve starts a transport with cfg, listening on addr.
func (c *cluster) serve(cfg Config, rec *recorder, addr string) *node {
	c.t.Helper()
	tr, err := New(cfg)
	if err != nil {
		c.t.Fatalf("New(%s): %v", cfg.Node, err)
	}
	l, err := cfg.Network.Listen(addr)
	if err != nil {
		c.t.Fatalf("listen %s: %v", addr, err)
	}
	srv := transport.NewServer(nil)
	tr.Register(srv)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
	var once sync.Once
	n := &node{name: cfg.Node, tr: tr, rec: rec, srv: srv}
	n.ip, _, _ = net.SplitHostPort(addr)
	n.stop = func() {
		once.Do(func() {
			if err := tr.Close(); err != nil {
				c.t.Errorf("close %s: %v", cfg.Node, err)
			}
			srv.Stop()
			<-served
		})
	}
	c.t.Cleanup(n.stop)
	c.mu.Lock()
	c.addrs[cfg.Node] = l.Addr().String()
	c.mu.Unlock()
	return n
}

// recorder is a Handler that records what it receives.
type recorder struct {
	mu       sync.Mutex
	got      map[string][]Message // by sender
	batches  int
	unreach  map[string]int
	notify   chan struct{} // signalled (non-blocking) on every batch
	snapshot func(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error
}

func newRecorder() *recorder {
	return &recorder{
		got:     make(map[string][]Message),
		unreach: make(map[string]int),
		notify:  make(chan struct{}, 1),
	}
}

func (r *recorder) HandleMessages(from string, msgs []Message) {
	r.mu.Lock()
	r.got[from] = append(r.got[from], msgs...)
	r.batches++
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) HandleSnapshot(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error {
	r.mu.Lock()
	h := r.snapshot
	r.mu.Unlock()
	if h == nil {
		for {
			if _, err := next(); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
	return h(ctx, from, header, next)
}

func (r *recorder) setSnapshot(h func(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error) {
	r.mu.Lock()
	r.snapshot = h
	r.mu.Unlock()
}

func (r *recorder) unreachable(node string) {
	r.mu.Lock()
	r.unreach[node]++
	r.mu.Unlock()
}

func (r *recorder) unreachableCount(node string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unreach[node]
}

// received returns a copy of what arrived from node.
func (r *recorder) received(from string) []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.got[from]...)
}

func (r *recorder) count(from string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got[from])
}

// msg returns a MsgApp of range rangeID whose Index is index and which
// carries payload bytes of entry data.
func msg(rangeID, index uint64, payload int) Message {
	m := &raftpb.Message{
		Type:  raftpb.MsgApp.Enum(),
		From:  proto.Uint64(1),
		To:    proto.Uint64(2),
		Term:  proto.Uint64(3),
		Index: proto.Uint64(index),
	}
	if payload > 0 {
		data := make([]byte, payload)
		for i := range data {
			data[i] = byte(index + uint64(i))
		}
		m.Entries = []*raftpb.Entry{{Index: proto.Uint64(index + 1), Data: data}}
	}
	return Message{RangeID: rangeID, Msg: m}
}

// checkSequence checks that got is exactly the messages with indexes
// first..first+len(got)-1, in order, each of range rangeOf(index).
func checkSequence(got []Message, first uint64, rangeOf func(uint64) uint64) error {
	for i, m := range got {
		want := first + uint64(i)
		if idx := m.Msg.GetIndex(); idx != want {
			return fmt.Errorf("message %d has index %d, want %d", i, idx, want)
		}
		if m.RangeID != rangeOf(want) {
			return fmt.Errorf("message %d has range %d, want %d", i, m.RangeID, rangeOf(want))
		}
	}
	return nil
}

// checkPayload checks that a message made by msg kept its entry data.
func checkPayload(m Message, payload int) error {
	es := m.Msg.GetEntries()
	if payload == 0 {
		if len(es) != 0 {
			return fmt.Errorf("index %d: unexpected entries", m.Msg.GetIndex())
		}
		return nil
	}
	if len(es) != 1 || len(es[0].GetData()) != payload {
		return fmt.Errorf("index %d: entries %d, want one of %d bytes", m.Msg.GetIndex(), len(es), payload)
	}
	for i, b := range es[0].GetData() {
		if b != byte(m.Msg.GetIndex()+uint64(i)) {
			return fmt.Errorf("index %d: byte %d corrupt", m.Msg.GetIndex(), i)
		}
	}
	return nil
}
