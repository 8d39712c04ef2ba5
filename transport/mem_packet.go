package transport

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Datagram limits: the largest UDP payload over IPv4, and how many datagrams
// a receiver queues before dropping more (a socket receive buffer).
const (
	maxDatagram     = 65507
	maxPacketQueued = 4096
)

// datagram is one message in a receive queue.
type datagram struct {
	at   time.Time // delivery time; zero means on arrival
	from *net.UDPAddr
	data []byte
}

// memPacketConn is an in-memory UDP socket. Sending decides the datagram's
// fate at once (dropped, or queued at the receiver with a delivery time);
// the receive queue is ordered by delivery time, so with different delays
// from different senders datagrams may be reordered, as on a real network.
//
// Addresses returned by ReadFrom and LocalAddr are shared and must not be
// modified by callers.
type memPacketConn struct {
	host *memHost
	addr *net.UDPAddr
	// closed is set under host.mu and read without it by WriteTo.
	closed atomic.Bool

	mu     sync.Mutex
	q      []datagram
	shut   bool          // guarded by mu; mirrors closed for the data path
	notify chan struct{} // one-slot wake-up token
	done   chan struct{} // closed on Close
	rdl    deadline
	wdl    deadline
}

func newMemPacketConn(h *memHost, port uint16) *memPacketConn {
	return &memPacketConn{
		host:   h,
		addr:   &net.UDPAddr{IP: h.nip, Port: int(port)},
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

func (pc *memPacketConn) poke() {
	select {
	case pc.notify <- struct{}{}:
	default:
	}
}

// WriteTo sends one datagram to addr, whose String must be "ip:port"
// (*net.UDPAddr is the fast path). Like UDP it reports success for datagrams
// that are then lost: to a cut link, a crashed or unknown host, a port with
// no socket, a full receive queue, or by SetLoss.
func (pc *memPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if pc.wdl.passed() {
		return 0, opError("write", "udp", pc.addr, addr, errTimeout)
	}
	if len(b) > maxDatagram {
		return 0, opError("write", "udp", pc.addr, addr, syscall.EMSGSIZE)
	}
	dst, err := netAddrPort(addr)
	if err != nil {
		return 0, opError("write", "udp", pc.addr, addr, err)
	}
	h, m := pc.host, pc.host.m
	if pc.closed.Load() {
		return 0, opError("write", "udp", pc.addr, addr, net.ErrClosed)
	}
	m.stats.datagramsSent.Add(1)
	var target *memPacketConn
	var p float64
	var delay time.Duration
	rules := m.rules.Load()
	if to := m.host(dst.Addr()); to != nil && !rules.cut(h.ip, to.ip) {
		to.mu.Lock()
		if !to.down {
			target = to.packets[dst.Port()]
		}
		to.mu.Unlock()
		p = rules.lossOf(h.ip, to.ip)
		delay = rules.delayOf(h.ip, to.ip)
	}
	if target == nil {
		m.stats.datagramsDropped.Add(1)
		return len(b), nil
	}
	if m.lose(p) {
		m.stats.datagramsDropped.Add(1)
		m.stats.datagramsLost.Add(1)
		return len(b), nil
	}
	d := datagram{from: pc.addr, data: append([]byte(nil), b...)}
	if delay > 0 {
		d.at = time.Now().Add(delay)
	}
	if !target.deliver(d) {
		m.stats.datagramsDropped.Add(1)
		return len(b), nil
	}
	m.stats.datagramsDelivered.Add(1)
	return len(b), nil
}

// deliver queues d by delivery time; false if the socket is closed or full.
func (pc *memPacketConn) deliver(d datagram) bool {
	pc.mu.Lock()
	if pc.shut || len(pc.q) >= maxPacketQueued {
		pc.mu.Unlock()
		return false
	}
	i := len(pc.q)
	for i > 0 && d.at.Before(pc.q[i-1].at) {
		i--
	}
	pc.q = append(pc.q, datagram{})
	copy(pc.q[i+1:], pc.q[i:])
	pc.q[i] = d
	pc.mu.Unlock()
	pc.poke()
	return true
}

// ReadFrom returns the next due datagram, truncated to len(b) like UDP.
func (pc *memPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		expired, moved := pc.rdl.wait()
		select {
		case <-expired:
			return 0, nil, opError("read", "udp", pc.addr, nil, errTimeout)
		default:
		}
		var due <-chan time.Time
		pc.mu.Lock()
		if pc.shut {
			pc.mu.Unlock()
			return 0, nil, opError("read", "udp", pc.addr, nil, net.ErrClosed)
		}
		if len(pc.q) > 0 {
			d := pc.q[0]
			var wait time.Duration
			if !d.at.IsZero() {
				wait = time.Until(d.at)
			}
			if wait <= 0 {
				pc.q[0] = datagram{}
				if len(pc.q) == 1 {
					pc.q = pc.q[:0]
				} else {
					pc.q = pc.q[1:]
				}
				more := len(pc.q) > 0
				pc.mu.Unlock()
				if more {
					pc.poke()
				}
				return copy(b, d.data), d.from, nil
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			due = timer.C
		}
		pc.mu.Unlock()
		select {
		case <-pc.notify:
		case <-pc.done:
		case <-expired:
		case <-moved:
		case <-due:
		}
	}
}

// Close frees the port; pending reads fail with net.ErrClosed.
func (pc *memPacketConn) Close() error {
	pc.host.mu.Lock()
	defer pc.host.mu.Unlock()
	if pc.closed.Load() {
		return opError("close", "udp", pc.addr, nil, net.ErrClosed)
	}
	pc.closeLocked()
	return nil
}

// closeLocked closes the socket; its host's mu is held.
func (pc *memPacketConn) closeLocked() {
	if pc.closed.Load() {
		return
	}
	pc.closed.Store(true)
	delete(pc.host.packets, uint16(pc.addr.Port))
	pc.mu.Lock()
	pc.shut = true
	pc.q = nil
	close(pc.done)
	pc.mu.Unlock()
}

// LocalAddr is a *net.UDPAddr with the host's ip and the bound port.
func (pc *memPacketConn) LocalAddr() net.Addr { return pc.addr }

// SetDeadline sets both deadlines; it applies to pending calls too.
func (pc *memPacketConn) SetDeadline(t time.Time) error {
	pc.rdl.set(t)
	pc.wdl.set(t)
	return nil
}

// SetReadDeadline makes pending and future reads time out once t passes.
func (pc *memPacketConn) SetReadDeadline(t time.Time) error {
	pc.rdl.set(t)
	return nil
}

// SetWriteDeadline makes writes started after t time out (writes never
// block).
func (pc *memPacketConn) SetWriteDeadline(t time.Time) error {
	pc.wdl.set(t)
	return nil
}
