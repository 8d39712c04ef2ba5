package transport

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
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
// Stream reads and writes take no network-wide lock and no connection has a
// goroutine of its own, so tens of thousands of connections and hundreds of
// thousands of writes per second stay cheap; datagram sends share a read
// lock. All methods are safe for concurrent use.
type MemNetwork struct {
	mu    sync.RWMutex
	hosts map[netip.Addr]*memHost
	links map[linkKey]*link // only pairs with live stream connections
	cuts  map[linkKey]struct{}
	loss  map[linkKey]float64
	delay map[linkKey]time.Duration
	// anyLoss mirrors len(loss) > 0 so the RPC path skips the lock in the
	// common case of no loss rules.
	anyLoss atomic.Bool
	// changed is closed and replaced whenever reachability may have
	// changed (faults, crashes, new hosts), waking dials that hang.
	changed chan struct{}

	rngMu sync.Mutex
	rng   *rand.Rand

	stats memStats
}

// NewMemNetwork returns an empty, fault-free network. seed initialises the
// random source behind SetLoss (datagrams and RPCs share it), so a run is
// reproducible as long as the order of sends is: every loss decision with
// 0 < p < 1 draws exactly one number; p of 0 or 1 draws none.
func NewMemNetwork(seed int64) *MemNetwork {
	return &MemNetwork{
		hosts:   make(map[netip.Addr]*memHost),
		links:   make(map[linkKey]*link),
		cuts:    make(map[linkKey]struct{}),
		loss:    make(map[linkKey]float64),
		delay:   make(map[linkKey]time.Duration),
		changed: make(chan struct{}),
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x636f6e636f7264)),
	}
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
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hostLocked(a)
}

// mustAddr parses a host ip given to a MemNetwork method.
func mustAddr(method, ip string) netip.Addr {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		panic(fmt.Sprintf("transport: MemNetwork.%s(%q): %v", method, ip, err))
	}
	return a.Unmap()
}

// hostLocked returns the host for a, creating it up and empty.
func (m *MemNetwork) hostLocked(a netip.Addr) *memHost {
	h := m.hosts[a]
	if h == nil {
		h = newMemHost(m, a)
		m.hosts[a] = h
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
	m.signalLocked()
}

// Restart brings a crashed host back up, empty: it may listen and dial again,
// and is reachable again once something listens. Links keep their faults.
func (m *MemNetwork) Restart(ip string) {
	a := mustAddr("Restart", ip)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hostLocked(a).down = false
	m.signalLocked()
}

// signalLocked wakes everything waiting for reachability to change.
func (m *MemNetwork) signalLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}
