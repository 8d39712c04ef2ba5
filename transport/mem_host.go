package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Ephemeral ports, as on Linux, for port 0 binds and outgoing connections.
const (
	ephemeralFirst = 32768
	ephemeralLast  = 60999
)

// memHost is one machine of a MemNetwork and the Network it sees. The fields
// after mu are guarded by it (see MemNetwork for the lock order).
type memHost struct {
	m    *MemNetwork
	addr netip.Addr
	ip   string // addr.String(), the key of fault rules
	nip  net.IP

	mu          sync.Mutex
	down        bool
	listeners   map[uint16]*memListener
	packets     map[uint16]*memPacketConn
	streamPorts map[uint16]struct{} // listener and outgoing-connection ports
	conns       map[*memConn]struct{}
	nextStream  uint16
	nextPacket  uint16
}

func newMemHost(m *MemNetwork, a netip.Addr) *memHost {
	return &memHost{
		m:           m,
		addr:        a,
		ip:          a.String(),
		nip:         net.IP(a.AsSlice()),
		listeners:   make(map[uint16]*memListener),
		packets:     make(map[uint16]*memPacketConn),
		streamPorts: make(map[uint16]struct{}),
		conns:       make(map[*memConn]struct{}),
		nextStream:  ephemeralFirst,
		nextPacket:  ephemeralFirst,
	}
}

// bindPort checks that addr is on this host (or unspecified) and returns its
// port, 0 meaning "allocate".
func (h *memHost) bindPort(addr string) (uint16, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return 0, err
		}
		if a = a.Unmap(); a != h.addr && !a.IsUnspecified() {
			return 0, syscall.EADDRNOTAVAIL
		}
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0, err
	}
	return uint16(n), nil
}

// allocLocked finds a free port in [ephemeralFirst, ephemeralLast], cycling
// from *next so recently freed ports are not reused at once.
func allocLocked[V any](used map[uint16]V, next *uint16) (uint16, error) {
	for range ephemeralLast - ephemeralFirst + 1 {
		p := *next
		if *next++; *next > ephemeralLast || *next < ephemeralFirst {
			*next = ephemeralFirst
		}
		if _, taken := used[p]; !taken {
			return p, nil
		}
	}
	return 0, syscall.EADDRNOTAVAIL
}

// Listen opens a stream listener on this host.
func (h *memHost) Listen(addr string) (net.Listener, error) {
	port, err := h.bindPort(addr)
	if err != nil {
		return nil, opError("listen", "tcp", nil, nil, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return nil, opError("listen", "tcp", nil, nil, ErrHostDown)
	}
	if port == 0 {
		if port, err = allocLocked(h.streamPorts, &h.nextStream); err != nil {
			return nil, opError("listen", "tcp", nil, nil, err)
		}
	} else if _, taken := h.streamPorts[port]; taken {
		return nil, opError("listen", "tcp", nil, &net.TCPAddr{IP: h.nip, Port: int(port)}, errInUse)
	}
	l := newMemListener(h, port)
	h.listeners[port] = l
	h.streamPorts[port] = struct{}{}
	return l, nil
}

// ListenPacket opens a datagram endpoint on this host.
func (h *memHost) ListenPacket(addr string) (net.PacketConn, error) {
	port, err := h.bindPort(addr)
	if err != nil {
		return nil, opError("listen", "udp", nil, nil, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return nil, opError("listen", "udp", nil, nil, ErrHostDown)
	}
	if port == 0 {
		if port, err = allocLocked(h.packets, &h.nextPacket); err != nil {
			return nil, opError("listen", "udp", nil, nil, err)
		}
	} else if _, taken := h.packets[port]; taken {
		return nil, opError("listen", "udp", nil, &net.UDPAddr{IP: h.nip, Port: int(port)}, errInUse)
	}
	pc := newMemPacketConn(h, port)
	h.packets[port] = pc
	return pc, nil
}

// Dial connects to a listener. It fails at once with ErrConnRefused when the
// destination host is up with nothing listening on the port, and hangs while
// the destination is unreachable: either direction cut (a handshake needs
// both), host crashed, or no host with that address. It re-checks whenever
// faults change, and gives up only when ctx ends. With delays configured the
// handshake costs one round trip.
func (h *memHost) Dial(ctx context.Context, addr string) (net.Conn, error) {
	m := h.m
	m.stats.dials.Add(1)
	dst, err := parseAddrPort(addr)
	if err != nil {
		return nil, opError("dial", "tcp", nil, nil, err)
	}
	raddr := &net.TCPAddr{IP: net.IP(dst.Addr().AsSlice()), Port: int(dst.Port())}
	handshakeDone := false
	for {
		if err := ctx.Err(); err != nil {
			m.stats.dialsTimedOut.Add(1)
			return nil, opError("dial", "tcp", nil, raddr, err)
		}
		// Load changed before looking: a change after the look closes it.
		changed := m.watch()
		rules := m.rules.Load()
		to := m.host(dst.Addr())
		reachable := to != nil && !rules.cut(h.ip, to.ip) && !rules.cut(to.ip, h.ip)
		var rtt time.Duration
		if reachable && !handshakeDone {
			rtt = rules.delayOf(h.ip, to.ip) + rules.delayOf(to.ip, h.ip)
			handshakeDone = rtt == 0
		}
		if reachable && handshakeDone {
			c, err := m.connect(h, to, dst.Port())
			switch {
			case err == nil:
				return c, nil
			case errors.Is(err, ErrConnRefused):
				m.stats.dialsRefused.Add(1)
				return nil, opError("dial", "tcp", nil, raddr, err)
			case !errors.Is(err, errUnreachable):
				return nil, opError("dial", "tcp", nil, raddr, err)
			}
		} else if err := h.checkUp(); err != nil {
			return nil, opError("dial", "tcp", nil, raddr, err)
		}
		if rtt > 0 {
			t := time.NewTimer(rtt)
			select {
			case <-t.C:
				handshakeDone = true
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
}

// checkUp returns ErrHostDown if the host is crashed.
func (h *memHost) checkUp() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return ErrHostDown
	}
	return nil
}

// lockPair locks the hosts a and b (once if they are the same) in address
// order, and returns the function that unlocks them.
func lockPair(a, b *memHost) (unlock func()) {
	if a == b {
		a.mu.Lock()
		return a.mu.Unlock
	}
	if b.addr.Less(a.addr) {
		a, b = b, a
	}
	a.mu.Lock()
	b.mu.Lock()
	return func() {
		b.mu.Unlock()
		a.mu.Unlock()
	}
}
