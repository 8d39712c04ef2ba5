package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/concord-kv/concord/transport"
)

// maxDatagram is the read buffer for one gossip datagram; memberlist never
// sends more than its UDPBufferSize (1400 bytes by default), and UDP cannot
// carry more than this.
const maxDatagram = 65536

// acceptBackoff bounds the pause after a transient Accept or ReadFrom error,
// so a persistent error cannot spin a core.
const acceptBackoff = 50 * time.Millisecond

// gossipTransport runs memberlist over a transport.Network: datagrams through
// one net.PacketConn, streams through one net.Listener and Network.Dial.
//
// Invariants: exactly two goroutines (packet reader, stream acceptor) run
// between newGossipTransport and Shutdown; every connection it hands to
// memberlist or dials for it is tracked and closed by Shutdown, so Shutdown
// is crash-like and prompt; after Shutdown returns no goroutine of it runs
// and no packet or stream is delivered.
type gossipTransport struct {
	network   transport.Network
	packets   net.PacketConn
	streams   net.Listener
	advertise netip.AddrPort
	logger    *slog.Logger

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn

	ctx    context.Context // cancelled by Shutdown; bounds dials and hand-offs
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[*trackedConn]struct{}

	shutdownOnce sync.Once
}

var _ memberlist.NodeAwareTransport = (*gossipTransport)(nil)

// newGossipTransport takes ownership of packets and streams (already bound,
// see openEndpoints) and starts reading them.
func newGossipTransport(network transport.Network, packets net.PacketConn, streams net.Listener,
	advertise netip.AddrPort, logger *slog.Logger) *gossipTransport {
	ctx, cancel := context.WithCancel(context.Background())
	t := &gossipTransport{
		network:   network,
		packets:   packets,
		streams:   streams,
		advertise: advertise,
		logger:    logger,
		packetCh:  make(chan *memberlist.Packet),
		streamCh:  make(chan net.Conn),
		ctx:       ctx,
		cancel:    cancel,
		conns:     map[*trackedConn]struct{}{},
	}
	t.wg.Add(2)
	go t.readPackets()
	go t.acceptStreams()
	return t
}

// FinalAdvertiseAddr implements memberlist.Transport. An explicit ip (and
// port, 0 meaning the bound one) must be an IP literal; otherwise the
// address resolved at Start is used.
func (t *gossipTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip == "" {
		return ipOf(t.advertise.Addr()), int(t.advertise.Port()), nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, 0, fmt.Errorf("membership: advertise address %q is not an IP literal", ip)
	}
	if port == 0 {
		port = int(t.advertise.Port())
	}
	return ipOf(a), port, nil
}

// ipOf converts to net.IP, 4 bytes for IPv4 as memberlist expects.
func ipOf(a netip.Addr) net.IP {
	return net.IP(a.Unmap().AsSlice())
}

// WriteTo implements memberlist.Transport.
func (t *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport. Only IP literals
// are accepted: memberlist always writes to addresses it learned as raw IPs.
func (t *gossipTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	ap, err := netip.ParseAddrPort(a.Addr)
	if err != nil {
		return time.Time{}, fmt.Errorf("membership: bad gossip address %q: %w", a.Addr, err)
	}
	_, err = t.packets.WriteTo(b, net.UDPAddrFromAddrPort(ap))
	return time.Now(), err
}

// PacketCh implements memberlist.Transport.
func (t *gossipTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// StreamCh implements memberlist.Transport.
func (t *gossipTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// DialTimeout implements memberlist.Transport.
func (t *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport: Network.Dial
// bounded by timeout and by Shutdown.
func (t *gossipTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	c, err := t.network.Dial(ctx, a.Addr)
	if err != nil {
		return nil, err
	}
	tc, ok := t.track(c)
	if !ok {
		return nil, net.ErrClosed
	}
	return tc, nil
}

// Shutdown implements memberlist.Transport: it closes the endpoints and every
// tracked connection, then waits for the reader and acceptor. Idempotent.
func (t *gossipTransport) Shutdown() error {
	t.shutdownOnce.Do(func() {
		t.cancel()
		_ = t.packets.Close()
		_ = t.streams.Close()
		t.mu.Lock()
		conns := t.conns
		t.conns = nil
		t.mu.Unlock()
		for c := range conns {
			_ = c.Conn.Close()
		}
		t.wg.Wait()
	})
	return nil
}

// readPackets is the single datagram reader. The timestamp is taken right
// after the read, as memberlist uses it for round-trip estimates.
func (t *gossipTransport) readPackets() {
	defer t.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := t.packets.ReadFrom(buf)
		ts := time.Now()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			t.logger.Debug("membership: gossip datagram read failed", "err", err)
			if !t.pause() {
				return
			}
			continue
		}
		if n < 1 {
			continue
		}
		p := &memberlist.Packet{Buf: append([]byte(nil), buf[:n]...), From: from, Timestamp: ts}
		select {
		case t.packetCh <- p:
		case <-t.ctx.Done():
			return
		}
	}
}

// acceptStreams is the single stream acceptor.
func (t *gossipTransport) acceptStreams() {
	defer t.wg.Done()
	for {
		c, err := t.streams.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			t.logger.Debug("membership: gossip stream accept failed", "err", err)
			if !t.pause() {
				return
			}
			continue
		}
		tc, ok := t.track(c)
		if !ok {
			return
		}
		select {
		case t.streamCh <- tc:
		case <-t.ctx.Done():
			_ = tc.Close()
			return
		}
	}
}

// pause waits acceptBackoff, reporting false if Shutdown began meanwhile.
func (t *gossipTransport) pause() bool {
	timer := time.NewTimer(acceptBackoff)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// track registers c for closing at Shutdown. If Shutdown already ran, it
// closes c and reports false.
func (t *gossipTransport) track(c net.Conn) (*trackedConn, bool) {
	tc := &trackedConn{Conn: c, t: t}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns == nil {
		_ = c.Close()
		return nil, false
	}
	t.conns[tc] = struct{}{}
	return tc, true
}

// trackedConn removes itself from its transport's set when closed.
type trackedConn struct {
	net.Conn
	t *gossipTransport
}

// Close closes the connection and forgets it.
func (c *trackedConn) Close() error {
	c.t.mu.Lock()
	if c.t.conns != nil {
		delete(c.t.conns, c)
	}
	c.t.mu.Unlock()
	return c.Conn.Close()
}
