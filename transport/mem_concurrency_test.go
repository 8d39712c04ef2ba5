package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Dials, closes and datagram sends run concurrently with crashes, restarts
// and rule changes (they share no network-wide lock, so this is for the
// race detector and for deadlocks), and the books balance afterwards: every
// connection is released and every datagram is counted once.
func TestMemConcurrentTrafficCrashesAndRules(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	ip := func(i int) string { return fmt.Sprintf("127.5.0.%d", i+1) }
	const servers, clients = 3, 2 // server ip(servers-1) crashes and restarts

	var serving sync.WaitGroup
	// serve accepts and closes connections and drains datagrams on host i
	// until its sockets are closed (by the test or by a crash).
	serve := func(i int) (net.Listener, net.PacketConn, error) {
		l, err := m.Host(ip(i)).Listen(ip(i) + ":7000")
		if err != nil {
			return nil, nil, err
		}
		pc, err := m.Host(ip(i)).ListenPacket(ip(i) + ":7000")
		if err != nil {
			l.Close()
			return nil, nil, err
		}
		serving.Go(func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		})
		serving.Go(func() {
			buf := make([]byte, 64)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
			}
		})
		return l, pc, nil
	}
	var closers []func()
	for i := range servers {
		l, pc, err := serve(i)
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, func() { l.Close(); pc.Close() })
	}

	// Traffic and rule changes go on while one server crashes and restarts
	// 200 times.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stop()
		for range 200 {
			m.Crash(ip(servers - 1))
			m.Restart(ip(servers - 1))
			if _, _, err := serve(servers - 1); err != nil {
				t.Errorf("serve after restart: %v", err)
				return
			}
		}
	})
	wg.Go(func() { // rule changes
		for i := 0; ctx.Err() == nil; i++ {
			m.SetLoss(ip(servers), ip(i%servers), 0.5)
			m.Cut(ip(servers+1), ip(i%servers))
			m.HealAll()
		}
	})
	for c := range clients {
		h := m.Host(ip(servers + c))
		pc, err := h.ListenPacket(ip(servers+c) + ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				to := ip(i % servers)
				dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				conn, err := h.Dial(dctx, to+":7000")
				cancel()
				switch {
				case err == nil:
					conn.Close()
				case errors.Is(err, ErrConnRefused), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
				default:
					t.Errorf("dial %s: %v", to, err)
				}
				if _, err := pc.WriteTo([]byte("ping"), &net.UDPAddr{IP: net.ParseIP(to), Port: 7000}); err != nil {
					t.Errorf("datagram to %s: %v", to, err)
				}
			}
		})
	}
	wg.Wait()
	m.Crash(ip(servers - 1))
	for _, c := range closers {
		c()
	}
	serving.Wait()

	s := m.Stats()
	if s.ConnsOpen != 0 {
		t.Errorf("%d connections still open after every end closed", s.ConnsOpen)
	}
	if s.DatagramsSent != s.DatagramsDelivered+s.DatagramsDropped {
		t.Errorf("datagrams: %d sent != %d delivered + %d dropped", s.DatagramsSent, s.DatagramsDelivered, s.DatagramsDropped)
	}
	if s.ConnsOpened == 0 || s.DatagramsDelivered == 0 {
		t.Errorf("no traffic got through: %+v", s)
	}
	m.linksMu.Lock()
	defer m.linksMu.Unlock()
	if len(m.links) != 0 {
		t.Errorf("%d links still held", len(m.links))
	}
}
