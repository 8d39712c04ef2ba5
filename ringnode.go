package concord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/concord-kv/concord/membership"
	"github.com/concord-kv/concord/ring"
	"github.com/concord-kv/concord/transport"
)

// Metadata keys a RingNode gossips so that other members can turn a gossip
// member into a ring.Server.
const (
	metaRingID   = "ring.id"
	metaRingAddr = "ring.addr"
)

// RingNodeConfig configures a RingNode.
type RingNodeConfig struct {
	// Ring configures the ring node. Listener and Peers are set by
	// StartRingNode; Network defaults to transport.TCP(); Name defaults to
	// the advertised address. AdvAddr, when set, must be an IP literal with a
	// port: gossip carries raw IPs.
	Ring ring.Config
	// Gossip tunes failure detection; the zero value is memberlist's LAN
	// profile.
	Gossip membership.Timing
	// Seeds are addresses of other nodes (ring and gossip share a port). The
	// gossip layer re-joins them periodically, which is how a node isolated
	// for a long time, or one side of a healed partition, finds the rest.
	Seeds []string
	// RejoinInterval is how often the seeds are re-joined while one of them
	// is not a live member (default membership.DefaultRejoinInterval).
	RejoinInterval time.Duration
	// OnEvent, if set, sees every membership event after the ring has
	// acted on it, in order, on the goroutine that consumes the events: it
	// must not block for long.
	OnEvent func(membership.Event)
}

// RingNode is a ring.Node with gossip membership on the same address:
//
//   - a node that gossip declares dead is removed from every successor list
//     and finger at once (ring.Node.MarkFailed), without waiting for RPC
//     timeouts;
//   - the live members are offered to the ring as peers (ring.Config.Peers),
//     so two rings formed during a partition merge into one once gossip
//     sees both sides again.
type RingNode struct {
	ring    *ring.Node
	members *membership.Membership
	onEvent func(membership.Event)
	log     *slog.Logger
	watched sync.WaitGroup

	// peerByName is the gossip membership as ring servers. Events update it
	// in O(1); the ring asks once a round for the closest successor
	// candidate, which is recomputed only when the membership changed.
	peerMu     sync.Mutex
	peerByName map[string]ring.Server
	peersDirty bool
	closest    []ring.Server // nil or one entry
}

// StartRingNode opens one listener on cfg.Ring.BindAddr, serves the ring's
// gRPC and gossip streams on it (gossip datagrams use the same port), and
// starts both. The node is not in a ring until Create or Join.
func StartRingNode(cfg RingNodeConfig) (*RingNode, error) {
	rc := cfg.Ring
	if rc.Network == nil {
		rc.Network = transport.TCP()
	}
	if rc.Listener != nil {
		return nil, errors.New("concord: RingNodeConfig.Ring.Listener must be empty: StartRingNode opens the listener")
	}
	if rc.BindAddr == "" {
		return nil, errors.New("concord: RingNodeConfig.Ring.BindAddr is required")
	}
	l, err := rc.Network.Listen(rc.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("concord: listen on %s: %w", rc.BindAddr, err)
	}
	cfg.Ring = rc
	return startRingNodeOn(l, cfg)
}

// startRingNodeOn is StartRingNode on a listener the caller opened.
func startRingNodeOn(l net.Listener, cfg RingNodeConfig) (*RingNode, error) {
	rc := cfg.Ring
	if rc.Network == nil {
		rc.Network = transport.TCP()
	}
	logger := rc.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	grpcL, gossipL := transport.SplitGRPC(l)
	bound := l.Addr().String()
	if rc.AdvAddr == "" {
		rc.AdvAddr = bound
	}
	if rc.Name == "" {
		rc.Name = rc.AdvAddr
	}
	n := &RingNode{log: logger, peerByName: map[string]ring.Server{}, onEvent: cfg.OnEvent}
	rc.Listener = grpcL
	rc.Peers = n.peerList
	n.ring = ring.New(rc)

	m, err := membership.Start(membership.Config{
		Name:           rc.Name,
		BindAddr:       bound,
		AdvertiseAddr:  rc.AdvAddr,
		Network:        rc.Network,
		StreamListener: gossipL,
		Meta: map[string]string{
			metaRingID:   strconv.FormatUint(n.ring.Id(), 10),
			metaRingAddr: rc.AdvAddr,
		},
		Seeds:          cfg.Seeds,
		RejoinInterval: cfg.RejoinInterval,
		Timing:         cfg.Gossip,
		Logger:         logger,
	})
	if err != nil {
		_ = grpcL.Close()
		return nil, fmt.Errorf("concord: start gossip: %w", err)
	}
	n.members = m
	if err := n.ring.Start(); err != nil {
		_ = m.Shutdown()
		return nil, err
	}
	n.watched.Add(1)
	go n.watch()
	return n, nil
}

// Ring returns the ring node.
func (n *RingNode) Ring() *ring.Node { return n.ring }

// Members returns the gossip membership.
func (n *RingNode) Members() *membership.Membership { return n.members }

// Create makes this node a ring of one.
func (n *RingNode) Create() error { return n.ring.Create() }

// Join joins the gossip cluster and then the ring through the first seed
// that leads to this node's successor. It fails with ring.ErrIDTaken if a
// live member, as gossip or the ring sees it, already has this node's id.
func (n *RingNode) Join(ctx context.Context, seeds ...string) error {
	if _, err := n.members.Join(ctx, seeds...); err != nil {
		// The ring join below is the authority: gossip catches up through
		// the periodic seed re-join.
		n.log.Warn("gossip join failed", "name", n.ring.Name(), "err", err)
	}
	// The ring refuses a taken id when its lookup meets the holder; gossip
	// also knows holders that joined too recently for lookups to find them.
	for _, m := range n.members.Members() {
		if p, ok := ringServer(m); ok && p.Id == n.ring.Id() && p.Name != n.ring.Name() {
			return fmt.Errorf("concord: join: %w: gossip member %s has id %d", ring.ErrIDTaken, p, p.Id)
		}
	}
	return n.ring.Join(ctx, seeds...)
}

// Leave hands the ring arc over, announces the departure to gossip and stops.
func (n *RingNode) Leave(ctx context.Context) error {
	err := n.ring.Leave(ctx)
	if gerr := n.members.Leave(ctx); gerr != nil {
		err = errors.Join(err, fmt.Errorf("concord: gossip leave: %w", gerr))
	}
	n.stopGossip()
	return err
}

// Stop halts the node at once, like a crash.
func (n *RingNode) Stop() {
	n.ring.Stop()
	n.stopGossip()
}

func (n *RingNode) stopGossip() {
	_ = n.members.Shutdown()
	n.watched.Wait()
}

// watch turns gossip events into ring repairs until the membership stops
// (its event channel is then closed).
func (n *RingNode) watch() {
	defer n.watched.Done()
	for ev := range n.members.Events() {
		s, ok := ringServer(ev.Member)
		switch ev.Kind {
		case membership.Failed, membership.Left:
			n.setPeer(ev.Member.Name, s, false)
			if ok {
				n.ring.MarkFailed(s)
			}
		default:
			n.setPeer(ev.Member.Name, s, ok)
		}
		if n.onEvent != nil {
			n.onEvent(ev)
		}
	}
}

// setPeer records (or, with present false, removes) a member.
func (n *RingNode) setPeer(name string, s ring.Server, present bool) {
	if name == n.ring.Name() {
		return
	}
	n.peerMu.Lock()
	defer n.peerMu.Unlock()
	if present {
		n.peerByName[name] = s
	} else {
		delete(n.peerByName, name)
	}
	n.peersDirty = true
}

// peerList is the ring's Peers source: the gossip member closest clockwise
// after this node, which is the only one that could be a better successor.
// The returned slice is shared and must not be modified.
func (n *RingNode) peerList() []ring.Server {
	n.peerMu.Lock()
	defer n.peerMu.Unlock()
	if !n.peersDirty {
		return n.closest
	}
	n.peersDirty = false
	self := n.ring.Id()
	var best ring.Server
	var bestDist uint64
	found := false
	for _, p := range n.peerByName {
		// Clockwise distance modulo 2^64 orders ids correctly for any
		// HashBits, because ids share the mask.
		if d := p.Id - self; d != 0 && (!found || d < bestDist) {
			best, bestDist, found = p, d, true
		}
	}
	n.closest = nil
	if found {
		n.closest = []ring.Server{best}
	}
	return n.closest
}

// ringServer reads the ring identity a member gossips.
func ringServer(m membership.Member) (ring.Server, bool) {
	addr, ok := m.Meta[metaRingAddr]
	if !ok {
		return ring.Server{}, false
	}
	id, err := strconv.ParseUint(m.Meta[metaRingID], 10, 64)
	if err != nil {
		return ring.Server{}, false
	}
	return ring.Server{Name: m.Name, Id: id, Address: addr}, true
}
