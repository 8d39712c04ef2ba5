package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
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
}

// Pool keeps one gRPC client connection per peer address, created lazily on
// first use and shared by all callers, since gRPC multiplexes calls over one
// HTTP/2 connection and reconnects on its own. Calls never wait for a
// connection to become ready (no WaitForReady): a call to an unreachable
// peer fails fast with Unavailable, or with DeadlineExceeded if the peer is
// black-holed. Safe for concurrent use.
type Pool struct {
	cfg  PoolConfig
	opts []grpc.DialOption

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	closed bool
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
		grpc.WithChainUnaryInterceptor(unaryDeadline(cfg.CallTimeout)),
		grpc.WithChainStreamInterceptor(streamDeadline(cfg.CallTimeout)),
	}
	if o, ok := network.(grpcDialOptioner); ok {
		opts = append(opts, o.GRPCDialOptions()...)
	}
	opts = append(opts, cfg.DialOptions...)
	return &Pool{cfg: cfg, opts: opts, conns: make(map[string]*grpc.ClientConn)}
}

// Conn returns the pool's connection to addr ("ip:port" or "host:port"),
// creating it if needed. Creating does no I/O; the connection dials on first
// use. Callers must not Close the returned connection (use Drop).
func (p *Pool) Conn(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	if cc := p.conns[addr]; cc != nil {
		return cc, nil
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, p.opts...)
	if err != nil {
		return nil, err
	}
	p.conns[addr] = cc
	return cc, nil
}

// Drop closes and forgets the connection to addr, if any (for example when
// the peer left for good). Calls in flight on it fail with Canceled; the
// next Conn(addr) creates a fresh connection.
func (p *Pool) Drop(addr string) {
	p.mu.Lock()
	cc := p.conns[addr]
	delete(p.conns, addr)
	p.mu.Unlock()
	if cc != nil {
		_ = cc.Close() // only fails if already closed
	}
}

// Close closes every connection; later Conn calls return ErrPoolClosed.
// Closing twice is harmless.
func (p *Pool) Close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.closed = true
	p.mu.Unlock()
	var errs []error
	for _, cc := range conns {
		errs = append(errs, cc.Close())
	}
	return errors.Join(errs...)
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
