package concord

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/membership"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/transport"
)

// Config configures a Node. Only DataDir is required; the zero value of
// every other field is a working default for a single local node.
type Config struct {
	// Name is the node's unique, stable name (default: the advertised
	// address). A restarted node keeps the name stored in its data
	// directory; a different Name is an error.
	Name string
	// BindAddr is where the node listens for ring, gossip, Raft and
	// forwarding traffic, all on one port (default "127.0.0.1:7946").
	BindAddr string
	// AdvertiseAddr is the address other nodes reach this one at (default:
	// the bound address). It must be an IP literal with a port.
	AdvertiseAddr string
	// Seeds are addresses of running nodes to join. Without seeds a node
	// with an empty data directory creates a new cluster.
	Seeds []string
	// DataDir holds the node's storage. Required.
	DataDir string
	// Replicas is the replication factor (default 3; ranges have fewer
	// replicas while the cluster has fewer nodes).
	Replicas int
	// ReplaceAfter is how long a failed node may stay away before its
	// replicas are rebuilt elsewhere (default 30 s): a quick restart must
	// not trigger re-replication. A node that leaves gracefully is replaced
	// at once.
	ReplaceAfter time.Duration
	// HashFunc maps keys (their hash tag) and node names to ring positions
	// (default xxhash); HashBits masks them (default 64). Every node of a
	// cluster must use the same.
	HashFunc func([]byte) uint64
	HashBits int
	// RequestTimeout bounds a request whose context has no deadline
	// (default 10 s).
	RequestTimeout time.Duration
	// Limits bounds keys, values and batches (default kv.DefaultLimits():
	// 4 KiB keys, 1 MiB values, 500 items).
	Limits kv.Limits
	// TickInterval is the Raft tick (default 100 ms; a follower campaigns
	// 5 to 10 ticks after it last heard its leader).
	TickInterval time.Duration
	// StabilizeInterval is the ring's stabilization period (default 500 ms).
	StabilizeInterval time.Duration
	// Gossip tunes failure detection (default memberlist's LAN profile).
	Gossip membership.Timing
	// TLS and ClientTLS secure node-to-node traffic (default plaintext).
	TLS, ClientTLS *tls.Config
	// Logger receives the node's logs (default: discard).
	Logger *slog.Logger
	// Registerer registers the node's Prometheus metrics (default: a
	// registry of the node's own from NewMetricsRegistry, with the Go
	// runtime and process collectors; Node.Gatherer serves it).
	Registerer prometheus.Registerer

	// Network and FS replace the operating system's network and filesystem
	// (tests use transport.NewMemNetwork and Pebble's in-memory FS).
	Network transport.Network
	FS      vfs.FS
}

// DefaultBindAddr is Config.BindAddr's default.
const DefaultBindAddr = "127.0.0.1:7946"

func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, fmt.Errorf("%w: DataDir is required", ErrInvalidConfig)
	}
	if c.BindAddr == "" {
		c.BindAddr = DefaultBindAddr
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Replicas < 0 {
		return c, fmt.Errorf("%w: Replicas must be positive", ErrInvalidConfig)
	}
	if c.ReplaceAfter == 0 {
		c.ReplaceAfter = 30 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.Limits == (kv.Limits{}) {
		c.Limits = kv.DefaultLimits()
	}
	if err := c.Limits.Check(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.HashBits < 0 || c.HashBits > 64 {
		return c, fmt.Errorf("%w: HashBits must be 1..64", ErrInvalidConfig)
	}
	if c.Network == nil {
		c.Network = transport.TCP()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registerer == nil {
		c.Registerer = NewMetricsRegistry()
	}
	return c, nil
}

// ErrInvalidConfig: Open was given a configuration it cannot run with.
var ErrInvalidConfig = errors.New("concord: invalid configuration")
