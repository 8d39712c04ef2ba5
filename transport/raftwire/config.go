package raftwire

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/concord-kv/concord/transport"
)

// Defaults of the Config fields.
const (
	DefaultQueueLen               = 4096
	DefaultMaxBatchBytes          = 1 << 20
	DefaultSnapshotRate           = 32 << 20
	DefaultMaxConcurrentSnapshots = 2
	DefaultAckTimeout             = 5 * time.Second
	DefaultIdleTimeout            = time.Minute
	DefaultSnapshotStallTimeout   = 30 * time.Second
	// DefaultSnapshotTimeout bounds a SendSnapshot whose context has no
	// deadline.
	DefaultSnapshotTimeout = time.Hour
)

// MaxFrameBytes is the largest allowed MaxBatchBytes. gRPC servers refuse
// messages over 4 MiB unless configured otherwise, and Register does not own
// the server; larger raft messages and snapshot chunks travel in pieces.
const MaxFrameBytes = 4<<20 - 64<<10

// Config configures a Transport.
type Config struct {
	// Node is this node's name, sent to peers. Required.
	Node string
	// Network carries the connections. Required.
	Network transport.Network
	// TLS is the client TLS configuration; nil means plaintext.
	TLS *tls.Config
	// Resolve maps a node name to its gRPC address (membership supplies
	// it). It is called on every (re)connect, so a node that moved is
	// found at its new address. Required.
	Resolve func(node string) (addr string, ok bool)
	// Handler receives what peers send. Required.
	Handler Handler
	// QueueLen is the per-peer send queue, in messages (default 4096).
	QueueLen int
	// MaxBatchBytes bounds one stream message (default 1 MiB, at most
	// MaxFrameBytes). Larger raft messages and snapshot chunks are split
	// into pieces and reassembled by the receiver.
	MaxBatchBytes int
	// SnapshotRate is the node-wide budget of outgoing snapshot bytes per
	// second (default 32 MiB/s; negative means unlimited), enforced with a
	// token bucket shared by all outgoing snapshots.
	SnapshotRate int64
	// MaxConcurrentSnapshots caps the outgoing snapshots in progress,
	// node-wide (default 2); further SendSnapshot calls wait for a slot.
	MaxConcurrentSnapshots int
	// OnUnreachable is called when a peer's stream broke, could not be
	// opened, or its queue overflowed (the Store calls ReportUnreachable on
	// the ranges it shares with the node). It is called from the peer's
	// sender goroutine, never from inside Send, so it may call back into
	// the caller's locks; it must not block for long. Optional.
	OnUnreachable func(node string)
	// Logger receives the transport's logs (default: discard).
	Logger *slog.Logger

	// AckTimeout is how long a peer may leave a batch unacknowledged
	// before its stream is declared broken (default 5 s).
	AckTimeout time.Duration
	// IdleTimeout stops a peer's sender goroutine and closes its stream
	// after this long without messages to it (default 1 min); the next
	// Send starts them again.
	IdleTimeout time.Duration
	// SnapshotStallTimeout fails an outgoing snapshot when a chunk could
	// not be written for this long (default 30 s): the receiver is gone or
	// stopped reading.
	SnapshotStallTimeout time.Duration
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Node == "":
		return c, fmt.Errorf("%w: Node is required", ErrInvalidConfig)
	case c.Network == nil:
		return c, fmt.Errorf("%w: Network is required", ErrInvalidConfig)
	case c.Resolve == nil:
		return c, fmt.Errorf("%w: Resolve is required", ErrInvalidConfig)
	case c.Handler == nil:
		return c, fmt.Errorf("%w: Handler is required", ErrInvalidConfig)
	case c.MaxBatchBytes > MaxFrameBytes:
		return c, fmt.Errorf("%w: MaxBatchBytes %d is over %d", ErrInvalidConfig, c.MaxBatchBytes, MaxFrameBytes)
	}
	if c.QueueLen <= 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	// Below this a piece would carry almost nothing but framing.
	c.MaxBatchBytes = max(c.MaxBatchBytes, minFrameBytes)
	if c.SnapshotRate == 0 {
		c.SnapshotRate = DefaultSnapshotRate
	}
	if c.MaxConcurrentSnapshots <= 0 {
		c.MaxConcurrentSnapshots = DefaultMaxConcurrentSnapshots
	}
	if c.OnUnreachable == nil {
		c.OnUnreachable = func(string) {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.SnapshotStallTimeout <= 0 {
		c.SnapshotStallTimeout = DefaultSnapshotStallTimeout
	}
	return c, nil
}
