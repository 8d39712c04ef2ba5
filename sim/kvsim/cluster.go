package kvsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"google.golang.org/grpc"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/transport"
	"github.com/concord-kv/concord/transport/raftwire"
)

// position is a key's ring position with the ring's default hash
// (xxhash64 of the hash tag, all 64 bits).
func position(key []byte) uint64 { return xxhash.Sum64(kv.HashTag(key)) }

// node is one Store with its engine, transport and gRPC server.
type node struct {
	name   string
	engine *storage.Engine
	store  *rangegroup.Store
	wire   *raftwire.Transport
	server *grpc.Server
}

// cluster is the in-process cluster under load. Its fields do not change
// after startCluster returns.
type cluster struct {
	nodes  []*node
	ranges []*rangeSpec
}

// startCluster starts cfg.Nodes Stores with their engines under dir and
// creates cfg.Ranges ranges. On error, whatever started is stopped.
func startCluster(cfg Config, dir string) (_ *cluster, err error) {
	c := &cluster{ranges: layoutRanges(cfg.Ranges, cfg.Replicas, cfg.Nodes)}
	defer func() {
		if err != nil {
			_ = c.close()
		}
	}()
	networks, listeners, err := listen(cfg)
	if err != nil {
		return nil, err
	}
	// Every address is known before any transport can resolve one, so the
	// map is read-only from here on.
	addrs := make(map[string]string, cfg.Nodes)
	for i, l := range listeners {
		addrs[nodeName(i)] = l.Addr().String()
	}
	resolve := func(name string) (string, bool) {
		a, ok := addrs[name]
		return a, ok
	}
	for i := range cfg.Nodes {
		nd, err := startNode(nodeName(i), filepath.Join(dir, nodeName(i)), networks[i], listeners[i], resolve)
		if err != nil {
			for _, l := range listeners[i+1:] {
				_ = l.Close()
			}
			return nil, err
		}
		c.nodes = append(c.nodes, nd)
	}
	for _, rs := range c.ranges {
		d := rs.descriptor()
		for _, i := range rs.replicas {
			if err := c.nodes[i].store.CreateRange(d); err != nil {
				return nil, fmt.Errorf("kvsim: create range %d on %s: %w", rs.id, nodeName(i), err)
			}
		}
	}
	return c, nil
}

func nodeName(i int) string { return fmt.Sprintf("n%d", i+1) }

// listen opens every node's listener on its network: loopback TCP, or one
// host per node on a fresh in-memory network.
func listen(cfg Config) ([]transport.Network, []net.Listener, error) {
	var mem *transport.MemNetwork
	if !cfg.TCP {
		mem = transport.NewMemNetwork(int64(cfg.Seed))
	}
	networks := make([]transport.Network, cfg.Nodes)
	listeners := make([]net.Listener, 0, cfg.Nodes)
	for i := range cfg.Nodes {
		addr := "127.0.0.1:0"
		if mem != nil {
			ip := fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff+1)
			networks[i], addr = mem.Host(ip), ip+":0"
		} else {
			networks[i] = transport.TCP()
		}
		l, err := networks[i].Listen(addr)
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			return nil, nil, fmt.Errorf("kvsim: listen for %s: %w", nodeName(i), err)
		}
		listeners = append(listeners, l)
	}
	return networks, listeners, nil
}

// storeSlot hands a transport's deliveries to a Store created after the
// transport (the Store needs its transport first). Deliveries before the
// Store is set are dropped; Raft sends them again.
type storeSlot struct {
	p atomic.Pointer[rangegroup.Store]
}

func (s *storeSlot) HandleMessages(from string, msgs []raftwire.Message) {
	if st := s.p.Load(); st != nil {
		st.HandleMessages(from, msgs)
	}
}

func (s *storeSlot) HandleSnapshot(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error {
	st := s.p.Load()
	if st == nil {
		return rangegroup.ErrStopped
	}
	return st.HandleSnapshot(ctx, from, header, next)
}

// startNode opens an engine in dir, and starts a transport serving on lis
// and a Store on both. It takes ownership of lis.
func startNode(name, dir string, network transport.Network, lis net.Listener, resolve func(string) (string, bool)) (*node, error) {
	eng, err := storage.Open(dir, storage.Options{})
	if err != nil {
		_ = lis.Close()
		return nil, fmt.Errorf("kvsim: %s: %w", name, err)
	}
	slot := &storeSlot{}
	wire, err := raftwire.New(raftwire.Config{Node: name, Network: network, Resolve: resolve, Handler: slot})
	if err != nil {
		_ = lis.Close()
		_ = eng.Close()
		return nil, fmt.Errorf("kvsim: %s: %w", name, err)
	}
	srv := transport.NewServer(nil)
	wire.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	st, err := rangegroup.NewStore(rangegroup.Config{
		NodeName:  name,
		Engine:    eng,
		Transport: wire,
		Machine:   &kv.Machine{Limits: kv.DefaultLimits(), Position: position},
	})
	if err != nil {
		_ = wire.Close()
		srv.Stop()
		_ = eng.Close()
		return nil, fmt.Errorf("kvsim: %s: %w", name, err)
	}
	slot.p.Store(st)
	return &node{name: name, engine: eng, store: st, wire: wire, server: srv}, nil
}

// close stops every node: Stores first, so no worker writes to a closed
// engine, then transports, servers and engines.
func (c *cluster) close() error {
	var errs []error
	for _, nd := range c.nodes {
		errs = append(errs, nd.store.Close())
	}
	for _, nd := range c.nodes {
		errs = append(errs, nd.wire.Close())
		nd.server.Stop()
		errs = append(errs, nd.engine.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kvsim: stop cluster: %w", err)
	}
	return nil
}
