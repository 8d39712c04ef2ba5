package raftwire

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/concord-kv/concord/transport"
	"github.com/concord-kv/concord/transport/raftwire/raftwirepb"
)

// Transport sends raft messages and snapshots to peer nodes and hands what
// peers send to a Handler. Safe for concurrent use.
//
// Goroutines: per peer with queued or recent traffic, one sender and, while
// its stream is open, one reader of the stream's acknowledgements; per
// incoming stream, the gRPC handler and one reader. None per range. Close
// stops them all.
type Transport struct {
	cfg  Config
	log  *slog.Logger
	pool *transport.Pool
	// incarnation and streamSeq order this process's streams for the
	// receivers (see raftwirepb.StreamHeader).
	incarnation uint64
	streamSeq   atomic.Uint64
	// streamLifetime is when message streams are renewed (a field so that
	// tests can shorten it before the first Send).
	streamLifetime time.Duration

	// ctx ends at Close; every stream and wait derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	limiter   *tokenBucket
	snapSlots chan struct{} // outgoing snapshot concurrency semaphore

	// mu guards closed and peers. Lock order: mu, then a peer's mu.
	mu     sync.RWMutex
	closed bool
	peers  map[string]*peer
	// wg counts the transport's goroutines and the gRPC handlers running
	// its code. Add only under mu with closed false (or from a counted
	// goroutine), so Close's Wait cannot race an Add from zero.
	wg sync.WaitGroup

	inMu    sync.Mutex
	inbound map[string]*inboundPeer

	stats counters
}

// New returns a Transport; it opens nothing until the first Send or
// SendSnapshot. Register it on the node's gRPC server to receive.
func New(cfg Config) (*Transport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg: cfg,
		log: cfg.Logger.With("node", cfg.Node),
		pool: transport.NewPool(transport.PoolConfig{
			Network: cfg.Network,
			TLS:     cfg.TLS,
		}),
		incarnation:    rand.Uint64(),
		streamLifetime: streamLifetime,
		ctx:            ctx,
		cancel:         cancel,
		limiter:        newTokenBucket(cfg.SnapshotRate),
		snapSlots:      make(chan struct{}, cfg.MaxConcurrentSnapshots),
		peers:          make(map[string]*peer),
		inbound:        make(map[string]*inboundPeer),
	}
	return t, nil
}

// Register registers the transport's gRPC service on s, the node's server.
// s must accept messages of MaxBatchBytes plus framing (gRPC's default
// 4 MiB limit does, for any valid MaxBatchBytes).
func (t *Transport) Register(s *grpc.Server) {
	raftwirepb.RegisterRaftWireServer(s, &service{t: t})
}

// Close stops every goroutine of the transport, closes its streams (peers
// see them end; messages still queued are dropped and counted) and fails
// snapshots in progress with ErrClosed. Incoming streams are ended; the
// gRPC server itself stays up. Closing twice is harmless.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	t.cancel()
	t.wg.Wait()
	t.mu.Lock()
	clear(t.peers)
	t.mu.Unlock()
	return t.pool.Close()
}

// enter counts a goroutine (a gRPC handler) into wg, unless the transport
// is closed; a true return must be paired with t.wg.Done.
func (t *Transport) enter() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}
