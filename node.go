package concord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"google.golang.org/grpc"

	"github.com/concord-kv/concord/membership"
	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rebalance"
	"github.com/concord-kv/concord/ring"
	"github.com/concord-kv/concord/router"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
	"github.com/concord-kv/concord/transport"
	"github.com/concord-kv/concord/transport/raftwire"
)

// Node is one member of a Concord cluster, embedded in this process: it
// stores replicas of some ranges, and serves any key through its router.
// Its methods are safe for concurrent use.
type Node struct {
	cfg  Config
	name string
	mask uint64
	hash func([]byte) uint64

	engine   *storage.Engine
	store    *rangegroup.Store
	wire     *raftwire.Transport
	pool     *transport.Pool
	ringNode atomic.Pointer[RingNode]
	router   *router.Router
	rebal    *rebalance.Rebalancer
	members  *memberView

	stopping atomic.Bool
	// watchCtx ends every watch goroutine when the node shuts down.
	watchCtx    context.Context
	stopWatches context.CancelFunc
	watches     sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
}

// Open starts a node: it opens (or creates) the data directory, starts the
// store with whatever replicas the directory holds, serves on BindAddr, and
// then creates a new cluster (no Seeds and no data) or joins one through
// the seeds. It returns once the node is part of the ring; ctx bounds the
// join.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, hash: cfg.HashFunc, mask: ^uint64(0)}
	n.watchCtx, n.stopWatches = context.WithCancel(context.Background())
	if n.hash == nil {
		n.hash = xxhash.Sum64
	}
	if cfg.HashBits > 0 && cfg.HashBits < 64 {
		n.mask = 1<<cfg.HashBits - 1
	}
	n.engine, err = storage.Open(cfg.DataDir, storage.Options{FS: cfg.FS, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("concord: open data directory: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			n.shutdown(false)
		}
	}()
	id, err := loadIdentity(n.engine)
	if err != nil {
		return nil, err
	}
	if err := n.start(ctx, id); err != nil {
		return nil, err
	}
	ok = true
	return n, nil
}

// start builds the layers bottom-up and brings the node into the cluster.
func (n *Node) start(ctx context.Context, id identity) error {
	cfg := n.cfg
	log := cfg.Logger
	n.name = id.Name
	if n.name == "" {
		n.name = cfg.Name
	}
	if cfg.Name != "" && n.name != cfg.Name {
		return fmt.Errorf("%w: data directory belongs to node %q, not %q", ErrInvalidConfig, n.name, cfg.Name)
	}
	// A fresh node named after its address must know the address before
	// the store exists: listen first, then build everything on the port.
	lis, err := cfg.Network.Listen(cfg.BindAddr)
	if err != nil {
		return fmt.Errorf("concord: listen on %s: %w", cfg.BindAddr, err)
	}
	adv := cfg.AdvertiseAddr
	if adv == "" {
		adv = lis.Addr().String()
	}
	if n.name == "" {
		n.name = adv
	}

	n.pool = transport.NewPool(transport.PoolConfig{Network: cfg.Network, TLS: cfg.ClientTLS})
	n.members = newMemberView(n.name)
	handler := &storeHandler{}
	n.wire, err = raftwire.New(raftwire.Config{
		Node:    n.name,
		Network: cfg.Network,
		TLS:     cfg.ClientTLS,
		Resolve: n.resolve,
		Handler: handler,
		OnUnreachable: func(node string) {
			if s := handler.store.Load(); s != nil {
				s.ReportUnreachable(node)
			}
		},
		Logger: log,
	})
	if err != nil {
		_ = lis.Close()
		return err
	}
	n.store, err = rangegroup.NewStore(rangegroup.Config{
		NodeName:     n.name,
		Engine:       n.engine,
		Transport:    n.wire,
		Machine:      &kv.Machine{Limits: cfg.Limits, Position: n.position},
		TickInterval: cfg.TickInterval,
		Logger:       log,
		Registerer:   cfg.Registerer,
	})
	if err != nil {
		_ = lis.Close()
		return err
	}
	handler.store.Store(n.store)
	n.router, err = router.New(router.Config{
		Self:       n.name,
		Store:      n.store,
		Position:   n.position,
		Owner:      n.owner,
		Resolve:    n.resolve,
		Pool:       n.pool,
		Limits:     cfg.Limits,
		Logger:     log,
		Registerer: cfg.Registerer,
	})
	if err != nil {
		_ = lis.Close()
		return err
	}
	n.rebal, err = rebalance.New(rebalance.Config{
		Self:       n.name,
		Store:      n.store,
		View:       n.members,
		Replicas:   cfg.Replicas,
		Grace:      cfg.ReplaceAfter,
		Logger:     log,
		Registerer: cfg.Registerer,
	})
	if err != nil {
		_ = lis.Close()
		return err
	}
	rc := ring.Config{
		Name:              n.name,
		AdvAddr:           adv,
		HashFunc:          cfg.HashFunc,
		HashBits:          cfg.HashBits,
		StabilizeInterval: cfg.StabilizeInterval,
		Registerer:        cfg.Registerer,
		Logger:            log,
		TLS:               cfg.TLS,
		ClientTLS:         cfg.ClientTLS,
		Network:           cfg.Network,
		OnRangeChange:     func(ring.Range) { n.rebal.Trigger() },
		ServerOptions:     router.ServerOptions(),
		RegisterServices: func(s *grpc.Server) {
			n.wire.Register(s)
			n.router.Register(s)
			registerAdmin(s, n)
			registerKV(s, n)
		},
	}
	if id.RingID != nil {
		rc.ID = id.RingID
	}
	rn, err := startRingNodeOn(lis, RingNodeConfig{
		Ring:    rc,
		Gossip:  cfg.Gossip,
		Seeds:   cfg.Seeds,
		OnEvent: n.onMemberEvent,
	})
	if err != nil {
		return err
	}
	n.ringNode.Store(rn)
	ringID := rn.Ring().Id()
	if err := saveIdentity(n.engine, identity{Name: n.name, RingID: &ringID}); err != nil {
		return err
	}
	n.members.observe(membership.Event{Kind: membership.Joined, Member: rn.Members().LocalMember()})
	if err := n.enterCluster(ctx, rn); err != nil {
		return err
	}
	n.rebal.Start()
	log.Info("node started", "name", n.name, "addr", adv, "ring_id", ringID, "ranges", len(n.store.Ranges()))
	return nil
}

// enterCluster creates a new cluster or joins one.
func (n *Node) enterCluster(ctx context.Context, rn *RingNode) error {
	if len(n.cfg.Seeds) > 0 {
		if err := rn.Join(ctx, n.cfg.Seeds...); err != nil {
			return fmt.Errorf("concord: join %v: %w", n.cfg.Seeds, err)
		}
		return nil
	}
	if err := rn.Create(); err != nil {
		return fmt.Errorf("concord: create ring: %w", err)
	}
	if len(n.store.Ranges()) > 0 {
		return nil // a restart: the replicas on disk are the cluster's
	}
	if err := n.store.CreateRange(rebalance.BootstrapDescriptor(n.name, rn.Ring().Id())); err != nil {
		return fmt.Errorf("concord: bootstrap the first range: %w", err)
	}
	return nil
}

// position is the ring position of a key: the hash of its hash tag.
func (n *Node) position(key []byte) uint64 { return n.hash(kv.HashTag(key)) & n.mask }

// owner asks the ring which node owns a position.
func (n *Node) owner(ctx context.Context, pos uint64) (string, error) {
	rn := n.ringNode.Load()
	if rn == nil {
		return "", rangegroup.ErrUnavailable
	}
	s, err := rn.Ring().LookupID(ctx, pos)
	if err != nil {
		return "", err
	}
	return s.Name, nil
}

// resolve turns a node name into the address its services listen on.
func (n *Node) resolve(node string) (string, bool) {
	rn := n.ringNode.Load()
	if rn == nil {
		return "", false
	}
	m, ok := rn.Members().Member(node)
	if !ok {
		return "", false
	}
	s, ok := ringServer(m)
	return s.Address, ok
}

func (n *Node) onMemberEvent(ev membership.Event) {
	n.members.observe(ev)
	if n.rebal != nil {
		n.rebal.Trigger()
	}
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// Addr returns the address the node is reached at.
func (n *Node) Addr() string {
	if rn := n.ringNode.Load(); rn != nil {
		return rn.Ring().Address()
	}
	return ""
}

// Close leaves the cluster gracefully: this node's range leaderships move
// to other replicas, the ring arc is handed over and gossip hears that the
// node left, so the others replace its replicas at once. The data
// directory keeps this node's identity and data.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(true) })
	return n.closeErr
}

// shutdown stops every layer top-down; graceful leaves the cluster first.
func (n *Node) shutdown(graceful bool) error {
	n.stopping.Store(true)
	n.stopWatches()
	n.watches.Wait()
	var errs []error
	if n.rebal != nil {
		n.rebal.Stop()
	}
	rn := n.ringNode.Load()
	if rn != nil {
		if graceful {
			ctx, cancel := context.WithTimeout(context.Background(), n.cfg.RequestTimeout)
			n.handOverLeadership(ctx)
			if err := rn.Leave(ctx); err != nil {
				errs = append(errs, fmt.Errorf("leave: %w", err))
			}
			cancel()
		} else {
			rn.Stop()
		}
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	if n.wire != nil {
		errs = append(errs, n.wire.Close())
	}
	if n.pool != nil {
		errs = append(errs, n.pool.Close())
	}
	if n.engine != nil {
		errs = append(errs, n.engine.Close())
	}
	return errors.Join(errs...)
}

// handOverLeadership moves the leadership of every range this node leads to
// another voter, so that leaving does not cost each range an election
// timeout of unavailability.
func (n *Node) handOverLeadership(ctx context.Context) {
	for _, info := range n.store.Ranges() {
		if !info.IsLeader || info.Descriptor == nil {
			continue
		}
		for _, rd := range info.Descriptor.Replicas {
			if rd.Node == n.name || rd.Type != storagepb.ReplicaType_VOTER {
				continue
			}
			tctx, cancel := context.WithTimeout(ctx, time.Second)
			err := n.store.TransferLeadership(tctx, info.RangeID, rd.Node)
			cancel()
			if err == nil {
				break
			}
		}
	}
}

// storeHandler hands raftwire's deliveries to the Store once it exists.
type storeHandler struct {
	store atomic.Pointer[rangegroup.Store]
}

func (h *storeHandler) HandleMessages(from string, msgs []raftwire.Message) {
	if s := h.store.Load(); s != nil {
		s.HandleMessages(from, msgs)
	}
}

func (h *storeHandler) HandleSnapshot(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error {
	s := h.store.Load()
	if s == nil {
		return rangegroup.ErrStopped
	}
	return s.HandleSnapshot(ctx, from, header, next)
}

// Ring returns the node's ring membership, for applications that also use
// the DHT directly (Lookup, Range, Successors). It is nil after a failed
// Open.
func (n *Node) Ring() *ring.Node {
	if rn := n.ringNode.Load(); rn != nil {
		return rn.Ring()
	}
	return nil
}
