package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DefaultCallTimeout is the deadline a Pool gives calls whose context has
// none, so that no RPC to a dead or partitioned peer can hang forever.
const DefaultCallTimeout = 5 * time.Second

// Reconnection policy of Pool connections. gRPC's defaults (up to 120s
// backoff, 20s connect timeout) would keep a restarted or healed peer
// unreachable for minutes; a cluster wants it back within about a second.
var poolConnectParams = grpc.ConnectParams{
	Backoff: backoff.Config{
		BaseDelay:  100 * time.Millisecond,
		Multiplier: 1.6,
		Jitter:     0.2,
		MaxDelay:   time.Second,
	},
	MinConnectTimeout: time.Second,
}

// PoolConfig configures a Pool.
type PoolConfig struct {
	// Network carries the connections. Required.
	Network Network
	// TLS is the client TLS configuration; nil means plaintext. Unless
	// ServerName is set, the server certificate is verified against the
	// host part of the address passed to Conn, so peers addressed by ip
	// need certificates with IP SANs.
	TLS *tls.Config
	// CallTimeout is the deadline added to unary and streaming calls whose
	// context has none. Zero or negative means DefaultCallTimeout.
	// Long-lived streams (raft message streams, watches) must therefore
	// carry their own, possibly distant, deadline.
	CallTimeout time.Duration
	// DialOptions are appended last to every grpc.NewClient call, after
	// the pool's own options and those the Network asks for (MemNetwork
	// hosts add their RPC loss interceptor).
	DialOptions []grpc.DialOption
	// IdleTimeout closes connections that have had no call in flight and no
	// new call for this long (default DefaultIdleTimeout; negative keeps
	// connections forever). Without it a node that once talked to many
	// peers, or to peers that died, would keep a connection (and gRPC's
	// reconnect attempts) to each of them.
	IdleTimeout time.Duration
}

// DefaultIdleTimeout is PoolConfig.IdleTimeout's default.
const DefaultIdleTimeout = time.Minute

// pooledConn is one cached connection with the use counts idle eviction
// needs.
type pooledConn struct {
	cc       *grpc.ClientConn
	active   atomic.Int64 // calls and streams in flight
	lastUsed atomic.Int64 // unix nanoseconds of the last call start or end
}

func (c *pooledConn) touch() { c.lastUsed.Store(time.Now().UnixNano()) }

// Pool keeps one gRPC client connection per peer address, created lazily on
// first use and shared by all callers, since gRPC multiplexes calls over one
// HTTP/2 connection and reconnects on its own. Calls never wait for a
// connection to become ready (no WaitForReady): a call to an unreachable
// peer fails fast with Unavailable, or with DeadlineExceeded if the peer is
// black-holed. Safe for concurrent use.
type Pool struct {
	cfg  PoolConfig
	opts []grpc.DialOption

	mu        sync.Mutex
	conns     map[string]*pooledConn
	closed    bool
	lastSweep time.Time
	// closing counts background closes (see closeLater). Add happens under
	// mu while the pool is open, so it never races with Close's Wait.
	closing sync.WaitGroup
}

// NewPool returns an empty pool. It panics if cfg.Network is nil, which is a
// programming error.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.Network == nil {
		panic("transport: PoolConfig.Network is nil")
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS)
	}
	network := cfg.Network
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return network.Dial(ctx, addr)
		}),
		grpc.WithConnectParams(poolConnectParams),
		// See connReadBuffer: many mostly idle peer connections.
		grpc.WithReadBufferSize(connReadBuffer),
		grpc.WithChainUnaryInterceptor(unaryDeadline(cfg.CallTimeout)),
		grpc.WithChainStreamInterceptor(streamDeadline(cfg.CallTimeout)),
	}
	if o, ok := network.(grpcDialOptioner); ok {
		opts = append(opts, o.GRPCDialOptions()...)
	}
	opts = append(opts, cfg.DialOptions...)
	return &Pool{cfg: cfg, opts: opts, conns: make(map[string]*pooledConn), lastSweep: time.Now()}
}

// Conn returns the pool's connection to addr ("ip:port" or "host:port"),
// creating it if needed. Creating does no I/O; the connection dials on first
// use. Callers must not Close the returned connection (use Drop).
func (p *Pool) Conn(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	p.closeLaterLocked(p.sweepLocked())
	pc := p.conns[addr]
	var err error
	if pc == nil {
		pc = &pooledConn{}
		opts := append(slices.Clone(p.opts),
			grpc.WithChainUnaryInterceptor(pc.unaryTracker),
			grpc.WithChainStreamInterceptor(pc.streamTracker))
		if pc.cc, err = grpc.NewClient("passthrough:///"+addr, opts...); err == nil {
			p.conns[addr] = pc
		}
	}
	pc.touch()
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return pc.cc, nil
}

// sweepLocked removes connections idle for longer than IdleTimeout and
// returns them for closing. It scans at most every half
// IdleTimeout, so Conn stays O(1) amortized.
func (p *Pool) sweepLocked() []*grpc.ClientConn {
	if p.cfg.IdleTimeout < 0 || time.Since(p.lastSweep) < p.cfg.IdleTimeout/2 {
		return nil
	}
	p.lastSweep = time.Now()
	cutoff := time.Now().Add(-p.cfg.IdleTimeout).UnixNano()
	var idle []*grpc.ClientConn
	for addr, pc := range p.conns {
		if pc.active.Load() == 0 && pc.lastUsed.Load() < cutoff {
			idle = append(idle, pc.cc)
			delete(p.conns, addr)
		}
	}
	return idle
}

// closeLaterLocked closes conns on a background goroutine that Close waits
// for. Closing a gRPC connection hands work between several of its
// goroutines and waits for each; on a busy process that takes as long as
// the scheduler needs to run them all, which a caller that only wanted
// another connection must not wait for. mu is held and the pool is open.
func (p *Pool) closeLaterLocked(conns []*grpc.ClientConn) {
	if len(conns) == 0 {
		return
	}
	p.closing.Add(1)
	go func() {
		defer p.closing.Done()
		for _, cc := range conns {
			_ = cc.Close() // only fails if already closed
		}
	}()
}

// Drop forgets the connection to addr, if any (for example when the peer
// left for good or stopped answering), and closes it in the background:
// the caller does not wait for gRPC's teardown. Calls in flight on it fail
// with Canceled; the next Conn(addr) creates a fresh connection.
func (p *Pool) Drop(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc := p.conns[addr]; pc != nil {
		delete(p.conns, addr)
		p.closeLaterLocked([]*grpc.ClientConn{pc.cc})
	}
}

// Len returns the number of cached connections.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close closes every connection, and waits for those that Drop and idle
// eviction are closing in the background; later Conn calls return
// ErrPoolClosed. Closing twice is harmless.
func (p *Pool) Close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.closed = true
	p.mu.Unlock()
	var errs []error
	for _, pc := range conns {
		errs = append(errs, pc.cc.Close())
	}
	p.closing.Wait()
	return errors.Join(errs...)
}

// unaryTracker counts a unary call as in flight while it runs.
func (c *pooledConn) unaryTracker(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c.active.Add(1)
	defer func() {
		c.touch()
		c.active.Add(-1)
	}()
	return invoker(ctx, method, req, reply, cc, opts...)
}

// streamTracker counts a stream as in flight until it ends (see
// trackedStream); a stream abandoned before its end keeps the connection
// from idle eviction, which errs on the safe side.
func (c *pooledConn) streamTracker(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c.active.Add(1)
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		c.touch()
		c.active.Add(-1)
		return nil, err
	}
	return &trackedStream{ClientStream: s, conn: c, single: !desc.ServerStreams}, nil
}

// trackedStream ends its connection's in-flight count once, when RecvMsg
// reports the end of the stream or returns the single response of a call
// whose server does not stream.
type trackedStream struct {
	grpc.ClientStream
	conn   *pooledConn
	single bool
	done   atomic.Bool
}

func (s *trackedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if (err != nil || s.single) && !s.done.Swap(true) {
		s.conn.touch()
		s.conn.active.Add(-1)
	}
	return err
}

// unaryDeadline gives unary calls without a deadline one of d.
func unaryDeadline(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// streamDeadline gives streams without a deadline one of d, measured from
// the stream's start. The timer is released when the stream fails to start
// or is over: RecvMsg reported the end (io.EOF or an error), or received the
// single response of a call whose server does not stream.
func streamDeadline(d time.Duration) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if _, ok := ctx.Deadline(); ok {
			return streamer(ctx, desc, cc, method, opts...)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		return &deadlineStream{ClientStream: s, cancel: cancel, single: !desc.ServerStreams}, nil
	}
}

// deadlineStream releases its deadline timer when the stream ends.
type deadlineStream struct {
	grpc.ClientStream
	cancel context.CancelFunc
	single bool // the server sends exactly one message
}

func (s *deadlineStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || s.single {
		s.cancel()
	}
	return err
}
