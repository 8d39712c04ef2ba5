package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrShutdown is returned by methods called after Shutdown.
var ErrShutdown = errors.New("membership: shut down")

// ErrLeft is returned by UpdateMeta and Join after Leave: memberlist cannot
// rejoin once it has left; start a new Membership instead.
var ErrLeft = errors.New("membership: node has left")

// Membership is one node's view of the cluster. All methods are safe for
// concurrent use.
//
// Lifecycle: Start -> (Join, UpdateMeta, queries)* -> [Leave] -> Shutdown.
// Invariants: every goroutine this package starts (event delivery, seed
// re-join, transport reader and acceptor, join attempts) has exited when
// Shutdown returns; memberlist's own goroutines exit on their own once it is
// shut down and no longer touch the network.
type Membership struct {
	name    string
	timing  Timing
	seeds   []string
	rejoin  time.Duration
	logger  *slog.Logger
	list    *memberlist.Memberlist
	meta    *metaStore
	events  *eventQueue
	table   *eventDelegate
	adverts string

	// life guards calls into memberlist that panic after its Shutdown
	// (Leave) or that must not start once Shutdown began: they hold it for
	// reading, Shutdown takes it for writing.
	life sync.RWMutex

	mu       sync.Mutex
	shutdown bool
	left     bool
	stop     chan struct{}        // closed by Shutdown: stops join waits
	noRejoin chan struct{}        // closed by Leave or Shutdown: stops the re-join loop
	pending  map[string]time.Time // re-announcements by key (see noteConflict) -> when noticed
	poke     chan struct{}        // capacity 1: pending changed
	wg       sync.WaitGroup

	shutdownOnce sync.Once
}

// Start binds the gossip endpoint and starts memberlist as a cluster of one.
// It does not contact anyone: call Join, or rely on Config.Seeds being
// re-joined in the background (the first attempt is immediate). It starts
// one background goroutine (seed re-join and conflict re-announcement, see
// rejoinLoop) besides event delivery and the transport's reader and acceptor.
func Start(cfg Config) (*Membership, error) {
	c, err := cfg.validate()
	if err != nil {
		if cfg.StreamListener != nil {
			_ = cfg.StreamListener.Close()
		}
		return nil, err
	}
	meta, err := newMetaStore(c.Meta)
	if err != nil {
		if c.StreamListener != nil {
			_ = c.StreamListener.Close()
		}
		return nil, err
	}
	logger := c.Logger.With("node", c.Name)
	ep, err := openEndpoints(c)
	if err != nil {
		return nil, err
	}
	trans := newGossipTransport(c.Network, ep.packets, ep.streams, ep.advertise, logger)
	m := &Membership{
		name:     c.Name,
		timing:   c.Timing,
		seeds:    c.Seeds,
		rejoin:   c.RejoinInterval,
		logger:   logger,
		meta:     meta,
		events:   newEventQueue(),
		adverts:  ep.advertise.String(),
		stop:     make(chan struct{}),
		noRejoin: make(chan struct{}),
		pending:  map[string]time.Time{},
		poke:     make(chan struct{}, 1),
	}
	m.table = newEventDelegate(m.events, logger, m.noteConflict)
	ml := memberlistConfig(c, ep, trans, meta, m.table, logger)
	list, err := memberlist.Create(ml)
	if err != nil {
		_ = trans.Shutdown()
		m.events.close()
		return nil, fmt.Errorf("membership: starting memberlist: %w", err)
	}
	m.list = list
	m.wg.Add(1)
	go m.rejoinLoop()
	return m, nil
}

// suspicionMaxTimeoutMult pins memberlist's Lifeguard suspicion timeout to
// its minimum. With the default (6), a suspect is declared dead only after
// up to six times the nominal timeout unless other members independently
// confirm the suspicion, which makes detection time depend on luck; with 1
// the nominal timeout is also the maximum, so DetectionTime is a real bound.
// The cost is weaker protection against a slow local node accusing healthy
// peers; accused members still refute suspicion themselves.
const suspicionMaxTimeoutMult = 1

// memberlistConfig maps Config onto memberlist's configuration.
func memberlistConfig(c Config, ep *endpoints, trans *gossipTransport, meta *metaStore,
	ev *eventDelegate, logger *slog.Logger) *memberlist.Config {
	t := c.Timing
	ml := memberlist.DefaultLANConfig()
	ml.Name = c.Name
	ml.Transport = trans
	ml.BindAddr = ep.bound.Addr().String()
	ml.BindPort = int(ep.bound.Port())
	ml.AdvertiseAddr = ep.advertise.Addr().String()
	ml.AdvertisePort = int(ep.advertise.Port())
	ml.ProbeInterval = t.ProbeInterval
	ml.ProbeTimeout = t.ProbeTimeout
	ml.GossipInterval = t.GossipInterval
	ml.PushPullInterval = t.PushPullInterval
	ml.GossipToTheDeadTime = t.PushPullInterval
	ml.SuspicionMult = t.SuspicionMult
	ml.SuspicionMaxTimeoutMult = suspicionMaxTimeoutMult
	ml.GossipNodes = t.GossipNodes
	ml.RetransmitMult = t.RetransmitMult
	// Streams (push/pull, joins, TCP fallback probes) get ten probe
	// intervals: 10s with LAN timing, as memberlist's default.
	ml.TCPTimeout = streamTimeout(t)
	// A restarted node may come back under its name at a new address;
	// memberlist refuses that as a conflict until the old incarnation has
	// been dead this long.
	ml.DeadNodeReclaimTime = deadNodeReclaimTime(t)
	// memberlist's per-message LZW compression cost about a third of a
	// 256-node simulation's CPU; gossip messages are small and LAN
	// bandwidth is cheap, so it is off.
	ml.EnableCompression = false
	ml.Delegate = meta
	ml.Events = ev
	ml.Conflict = ev
	ml.Logger = memberlistLogger(logger)
	ml.LogOutput = nil
	return ml
}

// streamTimeout bounds one stream exchange (memberlist's TCPTimeout), and so
// one join attempt.
func streamTimeout(t Timing) time.Duration {
	return 10 * t.ProbeInterval
}

// deadNodeReclaimTime is a few probe intervals: long enough that a stale
// message about the old address cannot flip a reclaimed name back, short
// enough that a restart is accepted almost as soon as the death is known.
func deadNodeReclaimTime(t Timing) time.Duration {
	return 3 * t.ProbeInterval
}

// Events returns the membership event stream, in the order this node learned
// of each change, starting with a Joined event for this node itself.
// Delivery never blocks memberlist: events wait in an unbounded queue drained
// by one goroutine, so a consumer that stops reading only delays (and grows)
// its own queue. Every call returns the same channel. It is closed when
// Shutdown returns; events not yet received then are discarded.
func (m *Membership) Events() <-chan Event { return m.events.out }

// Members returns the live members (alive or suspect, see State), including
// this node, sorted by name. Before Shutdown this node is always included;
// after Leave it is not.
func (m *Membership) Members() []Member {
	out := m.table.live()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Member returns the live member with this name, if any.
func (m *Membership) Member(name string) (Member, bool) {
	return m.table.lookup(name)
}

// LocalMember returns this node as the cluster sees it: its advertised
// address and current metadata. Its State is StateLeft after Leave and
// StateDead after Shutdown.
func (m *Membership) LocalMember() Member {
	mem := Member{Name: m.name, Addr: m.adverts, Meta: m.meta.user(), State: StateAlive}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.shutdown:
		mem.State = StateDead
	case m.left:
		mem.State = StateLeft
	}
	return mem
}

// UpdateMeta replaces this node's metadata and gossips it; every member
// emits an Updated event once it hears. The new metadata is in effect
// locally at once and queued for gossip; the call then waits until the
// broadcast has been sent its full number of retransmissions, for at most
// broadcastWait (a generous bound derived from Timing and the cluster size)
// and never past ctx's deadline. If that bound passes first, the broadcast
// simply stays queued and UpdateMeta returns nil: the metadata keeps
// spreading, by gossip and push/pull. Errors: ErrMetaTooLarge (nothing
// changed), ErrShutdown, ErrLeft, or ctx's error when its deadline (or a
// cancellation noticed before the wait) ended the wait.
func (m *Membership) UpdateMeta(ctx context.Context, meta map[string]string) error {
	m.life.RLock()
	defer m.life.RUnlock()
	if err := m.usable(); err != nil {
		return err
	}
	if err := m.meta.setUser(meta); err != nil {
		return err
	}
	timeout, byCtx, err := m.broadcastWait(ctx)
	if err != nil {
		return err
	}
	if err := m.list.UpdateNode(timeout); err != nil {
		if byCtx {
			return fmt.Errorf("membership: metadata update not fully gossiped before the deadline: %w", context.DeadlineExceeded)
		}
		m.logger.Debug("membership: metadata update still being gossiped", "waited", timeout, "err", err)
	}
	return nil
}

// Leave announces a graceful departure and waits (up to ctx's deadline and
// broadcastWait, each time) until it has been gossiped. Peers that hear it
// emit Left instead of Failed. It first marks the node's metadata as leaving
// and waits for that to spread, then broadcasts memberlist's leave. It stops
// the seed re-join loop; the node must still be stopped with Shutdown, and
// cannot rejoin. It returns an error if the leave broadcast was not
// confirmed in time (wrapping context.DeadlineExceeded when ctx's deadline
// was the limit): peers that miss it will report this node Failed. Calling
// it again is a no-op.
func (m *Membership) Leave(ctx context.Context) error {
	m.life.RLock()
	defer m.life.RUnlock()
	m.mu.Lock()
	if m.shutdown {
		m.mu.Unlock()
		return ErrShutdown
	}
	if m.left {
		m.mu.Unlock()
		return nil
	}
	m.left = true
	close(m.noRejoin)
	m.mu.Unlock()

	m.meta.setFlags(flagLeaving)
	timeout, _, err := m.broadcastWait(ctx)
	if err != nil {
		return err
	}
	if err := m.list.UpdateNode(timeout); err != nil {
		m.logger.Debug("membership: leave notice not fully gossiped", "err", err)
	}
	timeout, byCtx, err := m.broadcastWait(ctx)
	if err != nil {
		return err
	}
	if err := m.list.Leave(timeout); err != nil {
		if byCtx {
			return fmt.Errorf("membership: leave not fully gossiped before the deadline: %w", context.DeadlineExceeded)
		}
		return fmt.Errorf("membership: leave not fully gossiped within %v: %v", timeout, err)
	}
	return nil
}

// Shutdown stops the node abruptly, as a crash would: no leave is
// announced, so peers declare it Failed after DetectionTime. It closes the
// gossip endpoint (and Config.StreamListener), waits for every goroutine
// this package started, and closes the Events channel. It is idempotent and
// always returns nil; an in-flight Leave or UpdateMeta finishes first.
func (m *Membership) Shutdown() error {
	m.shutdownOnce.Do(func() {
		m.mu.Lock()
		m.shutdown = true
		close(m.stop)
		if !m.left {
			close(m.noRejoin)
		}
		m.mu.Unlock()

		m.life.Lock()
		if err := m.list.Shutdown(); err != nil {
			m.logger.Debug("membership: memberlist shutdown", "err", err)
		}
		m.life.Unlock()
		m.wg.Wait()
		m.events.close()
	})
	return nil
}

// DetectionTime is an upper bound, under normal conditions, on how long
// memberlist takes to declare a crashed node dead, for the current cluster
// size n (live members) and Timing:
//
//	ProbeInterval + ProbeTimeout + SuspicionMult * max(1, log10(n)) * ProbeInterval
//
// The first two terms cover a probe that finds the node silent (indirect
// probes finish within the probe interval, the direct timeout comes first),
// the last is memberlist's suspicion timeout, which this package pins (see
// suspicionMaxTimeoutMult). Not covered: the wait until some member's probe
// round reaches the crashed node (about one probe interval, shared among all
// members), gossip of the verdict (a few gossip intervals), and memberlist's
// back-off when the local node itself is unhealthy. Callers that need
// margin should use a multiple, such as 2x.
func (m *Membership) DetectionTime() time.Duration {
	return detectionTime(m.timing, m.table.size())
}

// detectionTime computes the DetectionTime formula, with the same integer
// arithmetic memberlist uses for the suspicion timeout.
func detectionTime(t Timing, n int) time.Duration {
	scale := math.Max(1, math.Log10(math.Max(1, float64(n))))
	suspicion := time.Duration(t.SuspicionMult) * time.Duration(scale*1000) * t.ProbeInterval / 1000
	return t.ProbeInterval + t.ProbeTimeout + suspicion
}

// broadcastWait returns how long to wait for a broadcast to finish: the
// bound below, clipped to ctx's deadline (byCtx reports that the deadline is
// the limit). It fails if ctx is already done.
//
// Bound: a broadcast is sent limit = RetransmitMult*ceil(log10(n+1)) times,
// to GossipNodes members per gossip interval and piggybacked on probes, so
// in a healthy cluster (limit+2) gossip intervals suffice. Other broadcasts
// compete for the same datagrams, and a loaded machine delays the gossip
// ticker, so the bound is four times that plus two probe intervals: 1.6s
// with FastTiming and 6.8s with LANTiming for up to nine members.
func (m *Membership) broadcastWait(ctx context.Context) (timeout time.Duration, byCtx bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	n := m.table.size()
	limit := m.timing.RetransmitMult * int(math.Ceil(math.Log10(float64(n+1))))
	bound := 4*time.Duration(limit+2)*m.timing.GossipInterval + 2*m.timing.ProbeInterval
	if dl, ok := ctx.Deadline(); ok {
		rem := time.Until(dl)
		if rem <= 0 {
			return 0, false, context.DeadlineExceeded
		}
		if rem < bound {
			return rem, true, nil
		}
	}
	return bound, false, nil
}

// usable reports ErrShutdown or ErrLeft when the node can no longer act.
func (m *Membership) usable() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.shutdown:
		return ErrShutdown
	case m.left:
		return ErrLeft
	}
	return nil
}
