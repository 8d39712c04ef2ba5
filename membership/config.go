package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/concord-kv/concord/transport"
)

// DefaultRejoinInterval is how often seeds are re-joined while one of them is
// not a live member, when Config.RejoinInterval is zero.
const DefaultRejoinInterval = 5 * time.Second

// Config describes one node's membership endpoint. Start validates it; the
// zero value of every optional field picks a documented default.
type Config struct {
	// Name uniquely identifies the node in the cluster (required). A node
	// restarted under the same name, even at a new address, is the same
	// member once the old incarnation has been declared dead.
	Name string
	// BindAddr is the "ip:port" on which gossip datagrams and streams are
	// received. The ip must be a literal; port 0 picks a free port (the
	// stream listener picks it, the datagram endpoint then binds the same
	// number). It may be empty only when StreamListener is set, in which
	// case the listener's address is used.
	BindAddr string
	// AdvertiseAddr is the "ip:port" other members use to reach this node.
	// It defaults to the bound address (after port 0 resolution) and must be
	// given when binding to an unspecified ip such as 0.0.0.0. The ip must
	// be a literal: memberlist gossips raw IPs, never names. Port 0 means
	// the bound port.
	AdvertiseAddr string
	// Network carries gossip traffic. It defaults to transport.TCP().
	Network transport.Network
	// StreamListener, if set, is used for memberlist's streams instead of
	// Network.Listen(BindAddr): the daemon shares one port between gRPC and
	// gossip via transport.SplitGRPC. Datagrams still use
	// Network.ListenPacket on the same ip:port. Membership owns the listener
	// from Start on and closes it on Shutdown (also when Start fails).
	StreamListener net.Listener
	// Meta is the node's initial metadata, gossiped to every member. It is
	// encoded compactly and the encoding must fit memberlist's 512-byte
	// limit (MaxMetaSize); Start fails with ErrMetaTooLarge otherwise.
	Meta map[string]string
	// Seeds are gossip addresses ("ip:port", or "host:port" resolved with
	// the system resolver). Every RejoinInterval, each seed that is not the
	// address of a live member is joined again. Start does not wait for
	// them; call Join to join synchronously.
	Seeds []string
	// RejoinInterval is the period of the seed re-join loop (default
	// DefaultRejoinInterval). Seeds are re-joined while any seed is not a
	// live member, so a node isolated longer than memberlist's dead-node
	// gossip window comes back, and the two halves of a healed partition
	// find each other.
	RejoinInterval time.Duration
	// Timing tunes failure detection and gossip. Zero fields take the
	// LANTiming value; FastTiming suits tests and the simulator.
	Timing Timing
	// Logger receives memberlist's own log output at debug level and this
	// package's warnings (name conflicts, undecodable metadata). The default
	// discards everything.
	Logger *slog.Logger
}

// Timing is the subset of memberlist's protocol periods that Concord tunes.
// Together they decide how fast failures are detected (see
// Membership.DetectionTime) and how much gossip traffic a node generates.
type Timing struct {
	// ProbeInterval is the period of the failure-detector probe: each
	// member probes one other member per interval.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a direct probe waits for its ack before
	// asking other members to probe indirectly. It must not exceed
	// ProbeInterval.
	ProbeTimeout time.Duration
	// GossipInterval is the period at which queued broadcasts (joins,
	// updates, suspicions, deaths) are sent to GossipNodes random members.
	GossipInterval time.Duration
	// PushPullInterval is the period of full-state anti-entropy with one
	// random member. It also bounds how long dead members keep receiving
	// gossip (memberlist's GossipToTheDeadTime is set to it).
	PushPullInterval time.Duration
	// SuspicionMult scales the suspicion timeout:
	// SuspicionMult * max(1, log10(n)) * ProbeInterval.
	SuspicionMult int
	// GossipNodes is how many random members each gossip round reaches.
	GossipNodes int
	// RetransmitMult scales how many times a broadcast is retransmitted:
	// RetransmitMult * ceil(log10(n+1)).
	RetransmitMult int
}

// LANTiming returns memberlist's LAN defaults: a crashed node in a cluster of
// up to ten is declared dead about 5-6 seconds after it stops answering.
func LANTiming() Timing {
	return Timing{
		ProbeInterval:    time.Second,
		ProbeTimeout:     500 * time.Millisecond,
		GossipInterval:   200 * time.Millisecond,
		PushPullInterval: 30 * time.Second,
		SuspicionMult:    4,
		GossipNodes:      3,
		RetransmitMult:   4,
	}
}

// FastTiming returns aggressive periods for tests and the simulator: a
// crashed node in a small in-memory cluster is declared dead within about one
// to two seconds. It is too eager for real networks with jitter.
func FastTiming() Timing {
	return Timing{
		ProbeInterval:    200 * time.Millisecond,
		ProbeTimeout:     100 * time.Millisecond,
		GossipInterval:   50 * time.Millisecond,
		PushPullInterval: 5 * time.Second,
		SuspicionMult:    3,
		GossipNodes:      3,
		RetransmitMult:   4,
	}
}

// Or returns t with each zero field taken from def, so a caller can
// override some periods and keep a profile's others.
func (t Timing) Or(def Timing) Timing {
	orDuration := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	orInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	orDuration(&t.ProbeInterval, def.ProbeInterval)
	orDuration(&t.ProbeTimeout, def.ProbeTimeout)
	orDuration(&t.GossipInterval, def.GossipInterval)
	orDuration(&t.PushPullInterval, def.PushPullInterval)
	orInt(&t.SuspicionMult, def.SuspicionMult)
	orInt(&t.GossipNodes, def.GossipNodes)
	orInt(&t.RetransmitMult, def.RetransmitMult)
	return t
}

// withDefaults fills zero fields from LANTiming and rejects negative or
// inconsistent values.
func (t Timing) withDefaults() (Timing, error) {
	t = t.Or(LANTiming())
	if t.ProbeInterval < 0 || t.ProbeTimeout < 0 || t.GossipInterval < 0 || t.PushPullInterval < 0 ||
		t.SuspicionMult < 0 || t.GossipNodes < 0 || t.RetransmitMult < 0 {
		return t, errors.New("membership: Timing values must not be negative")
	}
	if t.ProbeTimeout > t.ProbeInterval {
		return t, fmt.Errorf("membership: Timing.ProbeTimeout %v exceeds ProbeInterval %v", t.ProbeTimeout, t.ProbeInterval)
	}
	return t, nil
}

// validate checks the fields Start needs before it opens anything, and fills
// defaults that do not depend on the network.
func (c Config) validate() (Config, error) {
	if c.Name == "" {
		return c, errors.New("membership: Config.Name is required")
	}
	if c.BindAddr == "" && c.StreamListener == nil {
		return c, errors.New("membership: Config.BindAddr is required")
	}
	if c.Network == nil {
		c.Network = transport.TCP()
	}
	if c.RejoinInterval < 0 {
		return c, errors.New("membership: Config.RejoinInterval must not be negative")
	}
	if c.RejoinInterval == 0 {
		c.RejoinInterval = DefaultRejoinInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	t, err := c.Timing.withDefaults()
	if err != nil {
		return c, err
	}
	c.Timing = t
	c.Seeds = append([]string(nil), c.Seeds...)
	return c, nil
}
