package ring

import (
	"crypto/tls"
	"fmt"
	"google.golang.org/grpc"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/transport"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultSuccessorCount    = 8
	DefaultStabilizeInterval = 500 * time.Millisecond
	DefaultRPCTimeout        = time.Second
	DefaultLookupTimeout     = 5 * time.Second
)

// Config configures a Node. The zero value of every optional field selects
// a sensible default; New never panics on a bad Config, Start reports it.
type Config struct {
	// Name uniquely identifies the node; its id is HashFunc(Name) unless ID
	// is set. Required.
	Name string
	// BindAddr is the "host:port" the ring's gRPC server listens on (port 0
	// picks a free port). Required unless Listener is set.
	BindAddr string
	// AdvAddr is the address other nodes use to reach this one. Defaults to
	// the listener's address, which is only reachable when BindAddr names a
	// concrete host.
	AdvAddr string
	// OnRangeChange is called with the node's new arc (predecessor, self]
	// whenever it changes: when the node creates or joins a ring, gains or
	// loses part of its arc, or becomes isolated (the whole circle). Calls
	// are made in order, one at a time, from a goroutine that holds no lock
	// of the node, so the callback may call any Node method.
	OnRangeChange func(Range)
	// HashFunc maps keys and names to ids. Defaults to xxhash64. Its result
	// is masked to HashBits bits.
	HashFunc func([]byte) uint64
	// HashBits is the width m of the identifier space [0, 2^m), 1..64.
	// Zero means 64, whether or not HashFunc is set.
	HashBits int
	// ID, if set, is the node's id instead of HashFunc(Name). It must fit
	// in HashBits bits.
	ID *uint64
	// SuccessorCount is the length r of the successor list (default 8). The
	// ring survives up to r-1 simultaneous adjacent failures.
	SuccessorCount int
	// StabilizeInterval is the period of stabilization rounds (default
	// 500ms). A negative value disables the background loop; the owner then
	// calls Node.Stabilize itself (tests and deterministic simulations).
	StabilizeInterval time.Duration
	// RPCTimeout bounds every ring RPC (default 1s). A black-holed peer costs
	// at most this long per attempt.
	RPCTimeout time.Duration
	// LookupTimeout bounds Lookup, which takes no context (default 5s).
	LookupTimeout time.Duration
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// TLS, if set, secures ring RPCs: it is the server config, and also the
	// client config unless ClientTLS is set. transport.LoadTLS builds a
	// mutual-TLS pair. Peers are dialled by ip, so certificates need IP SANs.
	TLS *tls.Config
	// ClientTLS, if set, is used for outgoing RPCs instead of TLS.
	ClientTLS *tls.Config
	// Network carries ring RPCs (default transport.TCP()). Tests use an
	// in-memory network.
	Network transport.Network
	// Listener, if set, is used instead of listening on BindAddr, so the ring
	// can share a port (see transport.SplitGRPC). Stop closes it.
	Listener net.Listener
	// RegisterServices, if set, is called with the node's gRPC server before
	// it starts serving, so an application can serve its own services on
	// the ring's port. They stop with the node.
	RegisterServices func(s *grpc.Server)
	// ServerOptions are added to the node's gRPC server (for example a
	// larger receive limit for the services RegisterServices adds).
	ServerOptions []grpc.ServerOption
	// Peers, if set, is a source of nodes believed alive (for example a
	// gossip membership). Each stabilization round the node asks whether a
	// peer would be a closer successor and adopts it only after it answers.
	// This repairs what Chord alone cannot: two rings formed during a
	// partition merge into one, and an isolated node finds the ring again.
	Peers func() []Server
	// Registerer, if set, registers the node's Prometheus metrics (lookup
	// hops, stabilization rounds, successor and predecessor changes, finger
	// fixes) from Start until Stop. Nil means no registration.
	Registerer prometheus.Registerer
}

// settings is a validated Config with defaults applied.
type settings struct {
	Config
	bits int
	mask uint64
	log  *slog.Logger
}

func (c Config) validate() (settings, error) {
	s := settings{Config: c}
	bad := func(format string, args ...any) (settings, error) {
		return settings{}, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.Name == "" {
		return bad("Name is required")
	}
	if c.BindAddr == "" && c.Listener == nil {
		return bad("BindAddr is required (or a Listener)")
	}
	switch {
	case c.HashBits == 0:
		s.bits = 64
	case c.HashBits < 1 || c.HashBits > 64:
		return bad("HashBits must be in 1..64, got %d", c.HashBits)
	default:
		s.bits = c.HashBits
	}
	s.mask = mask(s.bits)
	if s.HashFunc == nil {
		s.HashFunc = xxhash.Sum64
	}
	if c.ID != nil && *c.ID&^s.mask != 0 {
		return bad("ID %d does not fit in %d bits", *c.ID, s.bits)
	}
	switch {
	case c.SuccessorCount == 0:
		s.SuccessorCount = DefaultSuccessorCount
	case c.SuccessorCount < 0:
		return bad("SuccessorCount must be positive, got %d", c.SuccessorCount)
	}
	if c.StabilizeInterval == 0 {
		s.StabilizeInterval = DefaultStabilizeInterval
	}
	if c.RPCTimeout < 0 || c.LookupTimeout < 0 {
		return bad("timeouts must not be negative")
	}
	if c.RPCTimeout == 0 {
		s.RPCTimeout = DefaultRPCTimeout
	}
	if c.LookupTimeout == 0 {
		s.LookupTimeout = DefaultLookupTimeout
	}
	s.log = c.Logger
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.Network == nil {
		s.Network = transport.TCP()
	}
	if s.ClientTLS == nil {
		s.ClientTLS = s.TLS
	}
	return s, nil
}

// position maps bytes to an id: HashFunc masked to the identifier width.
func (s *settings) position(b []byte) uint64 {
	return s.HashFunc(b) & s.mask
}
