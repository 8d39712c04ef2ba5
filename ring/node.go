package ring

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/concord-kv/concord/ring/ringpb"
	"github.com/concord-kv/concord/transport"
)

// phase is where a Node is in its life. It only moves forward.
type phase int

const (
	phaseNew     phase = iota // constructed, not started
	phaseStarted              // serving RPCs, not in a ring
	phaseJoining              // Join in progress
	phaseMember               // created or joined a ring
	phaseStopped              // stopped or left
)

// Node is one member of a Chord ring. Create it with New, then Start it and
// either Create a ring or Join one. All methods are safe for concurrent use.
type Node struct {
	cfg      settings
	cfgErr   error
	self     Server
	events   *rangeEvents
	stats    counters
	hops     prometheus.Histogram
	stopOnce sync.Once

	mu    sync.Mutex // guards everything below
	phase phase
	// succs is the successor list, ordered clockwise from self, without
	// duplicates and never containing self. Empty means no successor is
	// known: the node is alone unless it has a predecessor.
	succs []Server
	// pred is meaningful only when hasPred. predSilent counts this node's
	// rounds since pred last proved alive (it rectifies its successor every
	// round); counting rounds rather than time keeps hand-driven rounds
	// deterministic.
	pred       Server
	hasPred    bool
	predSilent int
	// succTimedOut timed out on the last succTimeouts rounds' stabilize
	// (see toleratesTimeout).
	succTimedOut Server
	succTimeouts int
	// fingers[i] is the owner of self+2^i, when known (fingerOK[i]).
	fingers    []Server
	fingerOK   []bool
	nextFinger int
	// emitted is the last range handed to the callback queue.
	emitted    Range
	hasEmitted bool

	listener net.Listener
	server   *grpc.Server
	pool     *transport.Pool
	// ctx is cancelled by Stop: background RPCs end at once and loops
	// waiting on ctx.Done() return.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Node for cfg. It never fails: an invalid Config is reported
// by Start (and by every method that needs a valid one).
func New(cfg Config) *Node {
	n := &Node{hops: newHopsHistogram()}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	s, err := cfg.validate()
	if err != nil {
		n.cfgErr = err
		n.self = Server{Name: cfg.Name}
		return n
	}
	n.cfg = s
	id := s.position([]byte(s.Name))
	if s.ID != nil {
		id = *s.ID
	}
	n.self = Server{Name: s.Name, Id: id, Address: s.AdvAddr}
	n.fingers = make([]Server, s.bits)
	n.fingerOK = make([]bool, s.bits)
	return n
}

// Start listens for ring RPCs. The node is not part of any ring until
// Create or Join succeeds.
func (n *Node) Start() error {
	if n.cfgErr != nil {
		return n.cfgErr
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.phase != phaseNew {
		return fmt.Errorf("ring: Start called twice: %w", ErrAlreadyMember)
	}
	if reg := n.cfg.Registerer; reg != nil {
		if err := reg.Register(collector{n}); err != nil {
			return fmt.Errorf("ring: register metrics: %w", err)
		}
	}
	l := n.cfg.Listener
	if l == nil {
		var err error
		if l, err = n.cfg.Network.Listen(n.cfg.BindAddr); err != nil {
			if reg := n.cfg.Registerer; reg != nil {
				reg.Unregister(collector{n})
			}
			return fmt.Errorf("ring: listen on %s: %w", n.cfg.BindAddr, err)
		}
	}
	n.listener = l
	if n.self.Address == "" {
		n.self.Address = l.Addr().String()
	}
	n.pool = transport.NewPool(transport.PoolConfig{
		Network:     n.cfg.Network,
		TLS:         n.cfg.ClientTLS,
		CallTimeout: n.cfg.RPCTimeout,
		IdleTimeout: n.idleTimeout(),
		DialOptions: []grpc.DialOption{grpc.WithReadBufferSize(clientReadBuffer)},
	})
	n.server = transport.NewServer(n.cfg.TLS, n.cfg.ServerOptions...)
	ringpb.RegisterRingServer(n.server, &rpcServer{n: n})
	if n.cfg.RegisterServices != nil {
		n.cfg.RegisterServices(n.server)
	}
	n.events = newRangeEvents(n.cfg.OnRangeChange)
	n.phase = phaseStarted
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		// Serve returns when the server stops; its error then says nothing new.
		_ = n.server.Serve(l)
	}()
	if n.cfg.StabilizeInterval > 0 {
		n.wg.Add(1)
		go n.stabilizeLoop()
	}
	n.cfg.log.Info("ring node started", "name", n.self.Name, "id", n.self.Id, "addr", n.self.Address)
	return nil
}

// idleTimeout is how long the node keeps a connection nobody uses. A node
// talks every round to its successor and once per finger cycle to each
// finger: a cycle takes about one round per distinct finger, log2(N) of them
// in a ring of N nodes, so 16 rounds keep those connections open in rings
// of up to about 2^14 nodes instead of closing and reopening them every
// cycle (larger rings only reconnect more often). Connections made for one
// lookup's path are rarely needed again soon, and each costs both ends
// buffers and goroutines (a thousand nodes checking lookups in one process
// open tens of thousands), so they should not outlive that by much.
func (n *Node) idleTimeout() time.Duration {
	if n.cfg.StabilizeInterval <= 0 {
		return transport.DefaultIdleTimeout
	}
	return max(16*n.cfg.StabilizeInterval, 5*time.Second)
}

// clientReadBuffer is the read buffer of the node's outgoing connections.
// They carry only ring replies, a few hundred bytes each, and most of them
// are idle at any moment (see idleTimeout).
const clientReadBuffer = 4 << 10

// Stop halts the node at once. To the rest of the ring this is a crash: no
// one is told, and the others repair around the gap. Use Leave to hand the
// arc over first. Stop is idempotent.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		n.mu.Lock()
		started := n.phase != phaseNew
		n.phase = phaseStopped
		n.mu.Unlock()
		if !started {
			return
		}
		n.cancel()
		n.server.Stop()
		_ = n.pool.Close()
		n.wg.Wait()
		n.events.close()
		if reg := n.cfg.Registerer; reg != nil {
			reg.Unregister(collector{n})
		}
		n.cfg.log.Info("ring node stopped", "name", n.self.Name)
	})
}

// Create makes this node a ring of one, owning the whole circle.
func (n *Node) Create() error {
	if n.cfgErr != nil {
		return n.cfgErr
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.canBecomeMemberLocked(); err != nil {
		return fmt.Errorf("ring: create: %w", err)
	}
	n.phase = phaseMember
	n.emitLocked()
	n.cfg.log.Info("created ring", "name", n.self.Name, "id", n.self.Id)
	return nil
}

func (n *Node) canBecomeMemberLocked() error {
	switch n.phase {
	case phaseNew:
		return ErrNotStarted
	case phaseStarted:
		return nil
	case phaseStopped:
		return ErrStopped
	default:
		return ErrAlreadyMember
	}
}

// DefaultJoinTimeout bounds Join when its context has no deadline.
const DefaultJoinTimeout = 30 * time.Second

// Join adds this node to the ring that the seed addresses belong to. Seeds
// are tried in order until one leads to the node's successor; rounds over
// all seeds repeat with backoff until ctx ends (DefaultJoinTimeout when ctx
// has no deadline), so a seed that is busy or still starting is waited for.
// With caller-driven rounds (negative StabilizeInterval) Join makes one pass
// over the seeds: the caller owns all timing, and nothing changes between
// attempts unless the caller acts.
// Join fails with ErrIDTaken, and changes nothing, if a live member has this
// node's id.
func (n *Node) Join(ctx context.Context, addrs ...string) error {
	if n.cfgErr != nil {
		return n.cfgErr
	}
	if len(addrs) == 0 {
		return fmt.Errorf("ring: join: %w", ErrNoSeed)
	}
	n.mu.Lock()
	if err := n.canBecomeMemberLocked(); err != nil {
		n.mu.Unlock()
		return fmt.Errorf("ring: join: %w", err)
	}
	n.phase = phaseJoining
	n.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultJoinTimeout)
		defer cancel()
	}

	var errs []error
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		errs = errs[:0]
		for _, addr := range addrs {
			succ, err := n.joinVia(ctx, addr)
			if err == nil {
				// Tell the successor about us now rather than a round later.
				n.rectify(ctx, succ)
				return nil
			}
			errs = append(errs, fmt.Errorf("via %s: %w", addr, err))
			if errors.Is(err, ErrIDTaken) || errors.Is(err, ErrStopped) {
				return n.joinFailed(errs)
			}
		}
		if n.cfg.StabilizeInterval < 0 {
			return n.joinFailed(errs)
		}
		n.cfg.log.Debug("join attempt failed", "name", n.self.Name, "attempt", attempt, "err", errors.Join(errs...))
		select {
		case <-ctx.Done():
			return n.joinFailed(errs)
		case <-n.ctx.Done():
			return n.joinFailed(append(errs, ErrStopped))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// joinFailed returns the node to the started phase after a failed Join.
func (n *Node) joinFailed(errs []error) error {
	n.mu.Lock()
	if n.phase == phaseJoining {
		n.phase = phaseStarted
	}
	n.mu.Unlock()
	return fmt.Errorf("ring: join: %w", errors.Join(errs...))
}

// joinVia finds this node's successor through the seed at addr, adopts the
// successor's list once the successor itself has answered, and learns its
// predecessor the same way. A successor that does not answer is excluded
// and the lookup repeated, up to SuccessorCount times.
func (n *Node) joinVia(ctx context.Context, addr string) (Server, error) {
	seed, err := n.state(ctx, addr)
	if err != nil {
		return Server{}, err
	}
	if !seed.member {
		return Server{}, fmt.Errorf("seed %s is not a ring member", seed.self)
	}
	var exclude []uint64
	var st peerState
	for {
		owner, _, err := n.findFrom(ctx, seed.self, n.self.Id, exclude)
		if err != nil {
			return Server{}, err
		}
		if st, err = n.stateOf(ctx, owner); err == nil && !st.member {
			err = errors.New("not a ring member")
		}
		if err == nil {
			break
		}
		if len(exclude) >= n.cfg.SuccessorCount {
			return Server{}, fmt.Errorf("successor %s: %w", owner, err)
		}
		exclude = append(exclude, owner.Id)
	}
	if st.self.Id == n.self.Id {
		return Server{}, fmt.Errorf("%w: %s has id %d", ErrIDTaken, st.self, n.self.Id)
	}
	pred, err := n.joinPredecessor(ctx, st)
	if err != nil {
		return Server{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.phase != phaseJoining {
		return Server{}, ErrStopped
	}
	n.phase = phaseMember
	n.setSuccessorsLocked(append([]Server{st.self}, st.succs...))
	if pred != nil {
		n.setPredLocked(*pred)
	}
	n.emitLocked()
	n.cfg.log.Info("joined ring", "name", n.self.Name, "id", n.self.Id, "successor", st.self.String())
	return st.self, nil
}

// joinPredecessor decides a joiner's predecessor from its successor's
// state: the successor's predecessor if it lies before the joiner and
// answers, or the successor itself when it is alone in its ring. It refuses
// the join if the successor's predecessor has the joiner's id and answers:
// a node with that id joined just ahead (the successor already adopted it,
// but the ring has not routed lookups to it yet).
func (n *Node) joinPredecessor(ctx context.Context, succ peerState) (*Server, error) {
	p, ok := succ.pred()
	switch {
	case !ok && len(succ.succs) == 0:
		s := succ.self
		return &s, nil
	case !ok:
		return nil, nil
	case p.Id == n.self.Id:
		if ps, err := n.state(ctx, p.Address); err == nil && ps.member && ps.self.Id == n.self.Id {
			return nil, fmt.Errorf("%w: %s has id %d", ErrIDTaken, ps.self, n.self.Id)
		}
		return nil, nil
	case between(p.Id, n.self.Id, succ.self.Id):
		if ps, err := n.stateOf(ctx, p); err == nil && ps.member {
			return &p, nil
		}
	}
	return nil, nil
}

// Name returns the node's name.
func (n *Node) Name() string { return n.self.Name }

// Id returns the node's id on the circle.
func (n *Node) Id() uint64 { return n.self.Id }

// Address returns the advertised address (known after Start).
func (n *Node) Address() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.self.Address
}

// Self returns this node as a Server.
func (n *Node) Self() Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.self
}

// Successors returns a copy of the successor list, nearest first. It is
// empty when the node is alone.
func (n *Node) Successors() []Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Server(nil), n.succs...)
}

// Predecessor returns the node's predecessor, if it knows one.
func (n *Node) Predecessor() (Server, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pred, n.hasPred
}

// Range returns the arc (predecessor, self] the node owns. ok is false when
// the node is not a ring member, or has just joined and has not yet learned
// its predecessor (its first stabilization rounds teach it).
func (n *Node) Range() (r Range, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rangeLocked()
}

// IsMember reports whether the node has created or joined a ring and not
// stopped.
func (n *Node) IsMember() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.phase == phaseMember
}

// rangeLocked computes the owned arc. A node with no successor and no
// predecessor is alone and owns the circle; a node that lost its
// predecessor keeps reporting its last arc until a new one rectifies it.
func (n *Node) rangeLocked() (Range, bool) {
	switch {
	case n.phase != phaseMember:
		return Range{}, false
	case n.hasPred:
		return Range{Start: n.pred.Id, End: n.self.Id}, true
	case len(n.succs) == 0:
		return Range{Start: n.self.Id, End: n.self.Id}, true
	case n.hasEmitted:
		return n.emitted, true
	default:
		return Range{}, false
	}
}

// emitLocked queues a range change if the owned arc differs from the last
// one queued.
func (n *Node) emitLocked() {
	r, ok := n.rangeLocked()
	if !ok || (n.hasEmitted && r == n.emitted) {
		return
	}
	n.emitted, n.hasEmitted = r, true
	n.cfg.log.Debug("range changed", "name", n.self.Name, "range", r.String())
	n.events.push(r)
}

// Stats returns counters of the node's protocol activity.
func (n *Node) Stats() Stats { return n.stats.snapshot() }

// Stats counts protocol activity since Start.
type Stats struct {
	StabilizeRounds    uint64 // completed stabilization rounds
	SuccessorChanges   uint64 // times the first successor changed
	PredecessorChanges uint64 // times a new predecessor was adopted
	FingersFixed       uint64 // finger entries set to a new owner
	Lookups            uint64 // lookups started by this node (including finger fixes that needed one)
	LookupHops         uint64 // remote steps taken by those lookups
	LookupFailures     uint64 // lookups that did not find an owner
}

type counters struct {
	stabilizeRounds, successorChanges, predecessorChanges, fingersFixed atomic.Uint64
	lookups, lookupHops, lookupFailures                                 atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		StabilizeRounds:    c.stabilizeRounds.Load(),
		SuccessorChanges:   c.successorChanges.Load(),
		PredecessorChanges: c.predecessorChanges.Load(),
		FingersFixed:       c.fingersFixed.Load(),
		Lookups:            c.lookups.Load(),
		LookupHops:         c.lookupHops.Load(),
		LookupFailures:     c.lookupFailures.Load(),
	}
}
