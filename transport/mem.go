package transport

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
)

// MemNetwork is an in-memory network of hosts, each named by an IP address,
// with injectable faults: cut links (both ways or one way), partitions,
// datagram and RPC loss, delay, and host crashes. It exists so that tests and
// the simulator can run many nodes in one process, deterministically and
// without sockets.
//
// Stream connections behave like TCP over a reliable but possibly cut or slow
// path: bytes are never lost, only held while a link is cut and delivered in
// order once it heals. Datagrams behave like UDP: they may be dropped (cut,
// loss, no receiver, full receive queue) but are never duplicated.
//
// No data path takes a network-wide lock, and no connection has a goroutine
// of its own, so tens of thousands of connections and hundreds of thousands
// of writes per second stay cheap. All methods are safe for concurrent use.
//
// Locking. Dials, closes and datagram sends read the host table and the
// fault rules without locks (a sync.Map and an immutable rules snapshot) and
// lock only the one or two hosts involved. mu serialises the rare writers:
// adding a host, Crash, Restart and rule changes. (A network-wide
// reader/writer lock on these paths once stalled a thousand simulated nodes:
// with both cores busy, each hand-over of a contended lock waited for the
// scheduler, and every datagram send queued behind any pending writer until
// gossip probes timed out.) Each memHost's mu guards that host's sockets,
// ports and down flag; linksMu guards links. Lock order: mu, then host locks
// (two hosts in address order), then linksMu, then the locks of single
// listeners, sockets and pipes.
type MemNetwork struct {
	mu    sync.Mutex
	hosts sync.Map // netip.Addr -> *memHost; stored under mu, never removed
	rules atomic.Pointer[faultRules]
	// changed is closed and replaced (under mu) whenever reachability may
	// have changed (faults, crashes, new hosts), waking dials that hang.
	// Readers load it before they look at hosts and rules, so a change
	// after the look closes the channel they then wait on.
	changed atomic.Pointer[chan struct{}]

	linksMu sync.Mutex
	links   map[linkKey]*link // only pairs with live stream connections

	rngMu sync.Mutex
	rng   *rand.Rand

	stats memStats
}

// NewMemNetwork returns an empty, fault-free network. seed initialises the
// random source behind SetLoss (datagrams and RPCs share it), so a run is
// reproducible as long as the order of sends is: every loss decision with
// 0 < p < 1 draws exactly one number; p of 0 or 1 draws none.
func NewMemNetwork(seed int64) *MemNetwork {
	m := &MemNetwork{
		links: make(map[linkKey]*link),
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x636f6e636f7264)),
	}
	m.rules.Store(newFaultRules())
	changed := make(chan struct{})
	m.changed.Store(&changed)
	return m
}

// Host returns the network as seen from the host with address ip (for example
// "127.1.0.5"), creating the host if needed. Listen and ListenPacket on it
// accept only addresses on ip (or the unspecified address, which means ip, as
// on a single-interface machine); Dial originates from ip. Calls with the
// same ip return the same host. The host also implements
// GRPCDialOptions() []grpc.DialOption, which Pool applies so that SetLoss
// drops RPCs too.
//
// ip must be a literal IPv4 or IPv6 address; anything else is a programming
// error and panics (as in Crash and Restart).
func (m *MemNetwork) Host(ip string) Network {
	a := mustAddr("Host", ip)
	if h := m.host(a); h != nil {
		return h
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hostLocked(a)
}

// host returns the host with address a, or nil if there is none yet.
func (m *MemNetwork) host(a netip.Addr) *memHost {
	if h, ok := m.hosts.Load(a); ok {
		return h.(*memHost)
	}
	return nil
}

// watch returns the channel that closes at the next reachability change.
func (m *MemNetwork) watch() <-chan struct{} { return *m.changed.Load() }

// mustAddr parses a host ip given to a MemNetwork method.
func mustAddr(method, ip string) netip.Addr {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		panic(fmt.Sprintf("transport: MemNetwork.%s(%q): %v", method, ip, err))
	}
	return a.Unmap()
}

// hostLocked returns the host for a, creating it up and empty. mu is held.
func (m *MemNetwork) hostLocked(a netip.Addr) *memHost {
	h := m.host(a)
	if h == nil {
		h = newMemHost(m, a)
		m.hosts.Store(a, h)
		m.signalLocked() // dials hanging on an unknown address re-check
	}
	return h
}

// Crash kills host ip: every listener, packet conn and stream conn it owns is
// closed. Its peers see their stream conns reset (reads and writes fail with
// ECONNRESET, queued bytes are discarded) whatever the state of the links,
// like the RST a rebooted machine answers with. Until Restart, dials to the
// host hang until the dialer's context ends (nothing answers), datagrams to
// it vanish, and the host itself can neither listen nor dial (ErrHostDown).
func (m *MemNetwork) Crash(ip string) {
	a := mustAddr("Crash", ip)
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hostLocked(a)
	h.mu.Lock()
	h.down = true
	for _, l := range h.listeners {
		l.closeLocked()
	}
	for _, pc := range h.packets {
		pc.closeLocked()
	}
	for c := range h.conns {
		c.abortLocked()
	}
	h.mu.Unlock()
	m.signalLocked()
}

// Restart brings a crashed host back up, empty: it may listen and dial again,
// and is reachable again once something listens. Links keep their faults.
func (m *MemNetwork) Restart(ip string) {
	a := mustAddr("Restart", ip)
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hostLocked(a)
	h.mu.Lock()
	h.down = false
	h.mu.Unlock()
	m.signalLocked()
}

// signalLocked wakes everything waiting for reachability to change. mu is
// held, and the change is already visible.
func (m *MemNetwork) signalLocked() {
	next := make(chan struct{})
	close(*m.changed.Swap(&next))
}
