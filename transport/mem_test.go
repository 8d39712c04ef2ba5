package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

func TestMemEcho(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	client, server := memPair(t, m, "127.1.0.1", "127.1.0.2")
	go func() { _, _ = io.Copy(server, server) }()

	msg := []byte("hello, ring")
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo = %q, want %q", got, msg)
	}

	la, ra := client.LocalAddr().(*net.TCPAddr), client.RemoteAddr().(*net.TCPAddr)
	if la.IP.String() != "127.1.0.1" || la.Port == 0 || ra.IP.String() != "127.1.0.2" {
		t.Errorf("client addrs %v -> %v", la, ra)
	}
	if server.RemoteAddr().String() != la.String() || server.LocalAddr().String() != ra.String() {
		t.Errorf("server addrs %v -> %v, client %v -> %v", server.LocalAddr(), server.RemoteAddr(), la, ra)
	}
}

// TestMemConnConformance runs the x/net net.Conn conformance suite
// (deadlines, Close unblocking, concurrent use, data integrity).
func TestMemConnConformance(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		l, err := m.Host("127.1.0.2").Listen("127.1.0.2:0")
		if err != nil {
			return nil, nil, nil, err
		}
		defer l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c1, err = m.Host("127.1.0.1").Dial(ctx, l.Addr().String())
		if err != nil {
			return nil, nil, nil, err
		}
		c2, err = l.Accept()
		if err != nil {
			return nil, nil, nil, err
		}
		return c1, c2, func() { c1.Close(); c2.Close() }, nil
	})
}

func TestMemListenAndDialErrors(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	a, b := m.Host("127.1.0.1"), m.Host("127.1.0.2")
	l, err := b.Listen("127.1.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := l.Addr().(*net.TCPAddr).String(); got != "127.1.0.2:7000" {
		t.Errorf("listener addr %s", got)
	}
	if _, err := b.Listen("127.1.0.2:7000"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second listen: %v, want EADDRINUSE", err)
	}
	if _, err := b.Listen("127.1.0.9:7001"); err == nil {
		t.Error("listen on another host's ip succeeded")
	}
	if l2, err := b.Listen(":7002"); err != nil || l2.Addr().String() != "127.1.0.2:7002" {
		t.Errorf("listen on unspecified ip: %v %v", l2, err)
	} else {
		l2.Close()
	}

	start := time.Now()
	_, err = a.Dial(testCtx(t, 5*time.Second), "127.1.0.2:7999")
	if !errors.Is(err, ErrConnRefused) {
		t.Fatalf("dial to closed port: %v, want ErrConnRefused", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("refusal was not immediate")
	}
	if s := m.Stats(); s.DialsRefused != 1 {
		t.Errorf("DialsRefused = %d", s.DialsRefused)
	}
	if _, err := a.Dial(testCtx(t, time.Second), "not-an-ip:1"); err == nil {
		t.Error("dial to a name succeeded")
	}
}

// dialMustHang dials and expects the dial to last until ctx's deadline.
func dialMustHang(t *testing.T, n Network, addr string) {
	t.Helper()
	const wait = 100 * time.Millisecond
	start := time.Now()
	c, err := n.Dial(testCtx(t, wait), addr)
	if err == nil {
		c.Close()
		t.Fatalf("dial to %s succeeded, want hang", addr)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial to %s: %v, want context.DeadlineExceeded", addr, err)
	}
	if el := time.Since(start); el < wait {
		t.Fatalf("dial to %s returned after %v, before its deadline", addr, el)
	}
}

func TestMemDialAcrossCut(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	a := m.Host("127.1.0.1")
	l, err := m.Host("127.1.0.2").Listen("127.1.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	m.Cut("127.1.0.1", "127.1.0.2")
	dialMustHang(t, a, "127.1.0.2:7000")

	// A handshake needs both directions: either one-way cut blocks it.
	m.Heal("127.1.0.1", "127.1.0.2")
	m.CutOneWay("127.1.0.2", "127.1.0.1")
	dialMustHang(t, a, "127.1.0.2:7000")

	// An address with no host behind it is a black hole too.
	dialMustHang(t, a, "127.1.0.77:7000")

	// A dial hanging when the link heals completes.
	done := make(chan error, 1)
	go func() {
		c, err := a.Dial(testCtx(t, 5*time.Second), "127.1.0.2:7000")
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	m.HealAll()
	if err := <-done; err != nil {
		t.Fatalf("dial after heal: %v", err)
	}
	if s := m.Stats(); s.DialsTimedOut != 3 {
		t.Errorf("DialsTimedOut = %d, want 3", s.DialsTimedOut)
	}
}

func TestMemOneWayCutHoldsBytes(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	client, server := memPair(t, m, "127.1.0.1", "127.1.0.2")

	m.CutOneWay("127.1.0.1", "127.1.0.2")
	for _, s := range []string{"one,", "two,", "three"} {
		if _, err := client.Write([]byte(s)); err != nil {
			t.Fatalf("write on cut link: %v", err)
		}
	}
	// Writes past the backpressure threshold must not block on a cut link.
	if _, err := client.Write(make([]byte, 2*sendBuffer)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("end")); err != nil {
		t.Fatal(err)
	}

	// Nothing arrives while cut...
	server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := server.Read(make([]byte, 16)); n != 0 || !isTimeout(err) {
		t.Fatalf("read across cut = %d, %v; want timeout", n, err)
	}
	// ...while the other direction still works.
	if _, err := server.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "pong" {
		t.Fatalf("reverse direction: %q, %v", got, err)
	}

	// A reader blocked before Heal is woken by it and gets everything in order.
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	result := make(chan []byte, 1)
	go func() {
		want := len("one,two,three") + 2*sendBuffer + len("end")
		buf := make([]byte, want)
		n, err := io.ReadFull(server, buf)
		if err != nil {
			t.Errorf("read after heal: %v", err)
		}
		result <- buf[:n]
	}()
	m.Heal("127.1.0.2", "127.1.0.1")
	buf := <-result
	if !bytes.HasPrefix(buf, []byte("one,two,three")) || !bytes.HasSuffix(buf, []byte("end")) {
		t.Fatalf("after heal got %q...%q", buf[:min(len(buf), 13)], buf[max(0, len(buf)-3):])
	}
}

func TestMemCrashAndRestart(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	a, b := m.Host("127.1.0.1"), m.Host("127.1.0.2")
	client, server := memPair(t, m, "127.1.0.1", "127.1.0.2")
	l, err := b.Listen("127.1.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := b.ListenPacket("127.1.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write([]byte("queued bytes are discarded by a reset")); err != nil {
		t.Fatal(err)
	}

	accepted := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		accepted <- err
	}()
	readErr := make(chan error, 1)
	go func() {
		_, err := server.Read(make([]byte, 1))
		readErr <- err
	}()

	m.Crash("127.1.0.2")

	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 64)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("peer read after crash: %v, want ECONNRESET", err)
	}
	if _, err := client.Write([]byte("x")); err == nil {
		t.Error("peer write after crash succeeded")
	}
	if err := <-readErr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("crashed host's read: %v, want net.ErrClosed", err)
	}
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Errorf("crashed host's accept: %v, want net.ErrClosed", err)
	}
	if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("crashed host's packet read: %v", err)
	}
	dialMustHang(t, a, "127.1.0.2:7000")
	if _, err := b.Listen("127.1.0.2:7000"); !errors.Is(err, ErrHostDown) {
		t.Errorf("listen on crashed host: %v, want ErrHostDown", err)
	}
	if _, err := b.Dial(testCtx(t, time.Second), "127.1.0.1:1"); !errors.Is(err, ErrHostDown) {
		t.Errorf("dial from crashed host: %v, want ErrHostDown", err)
	}

	m.Restart("127.1.0.2")
	if _, err := a.Dial(testCtx(t, 5*time.Second), "127.1.0.2:7000"); !errors.Is(err, ErrConnRefused) {
		t.Errorf("dial to restarted host with no listener: %v, want refused", err)
	}
	l2, err := b.Listen("127.1.0.2:7000")
	if err != nil {
		t.Fatalf("listen after restart: %v", err)
	}
	defer l2.Close()
	c, err := a.Dial(testCtx(t, 5*time.Second), "127.1.0.2:7000")
	if err != nil {
		t.Fatalf("dial after restart: %v", err)
	}
	c.Close()
}

func TestMemCloseSemantics(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	client, server := memPair(t, m, "127.1.0.1", "127.1.0.2")

	if _, err := client.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second close: %v", err)
	}
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "last words" {
		t.Fatalf("drain after peer close: %q, %v", got, err)
	}
	if _, err := server.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("write to closed peer: %v, want ECONNRESET", err)
	}
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); s.ConnsOpen != 0 || s.ConnsOpened != 1 {
		t.Errorf("stats after close: %+v", s)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

func TestMemDeadlines(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	client, server := memPair(t, m, "127.1.0.1", "127.1.0.2")

	// A future deadline times out a blocked read, and is a lower bound.
	start := time.Now()
	client.SetReadDeadline(start.Add(30 * time.Millisecond))
	if _, err := client.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read past deadline: %v", err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("timed out after %v", el)
	}

	// A deadline set while a read is pending applies to it.
	done := make(chan error, 1)
	client.SetReadDeadline(time.Time{})
	go func() {
		_, err := client.Read(make([]byte, 1))
		done <- err
	}()
	client.SetReadDeadline(time.Unix(1, 0))
	if err := <-done; !isTimeout(err) {
		t.Fatalf("pending read after past deadline: %v", err)
	}

	// Clearing the deadline makes the conn usable again.
	client.SetReadDeadline(time.Time{})
	server.Write([]byte("z"))
	if _, err := client.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}

	client.SetWriteDeadline(time.Unix(1, 0))
	if n, err := client.Write([]byte("x")); n != 0 || !isTimeout(err) {
		t.Fatalf("write past deadline: %d, %v", n, err)
	}

	// Close unblocks a pending read.
	go func() {
		_, err := server.Read(make([]byte, 1))
		done <- err
	}()
	server.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read unblocked by close: %v", err)
	}
}

func TestMemStreamDelay(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	const d = 40 * time.Millisecond
	m.SetDelay("127.1.0.1", "", d)
	start := time.Now()
	client, server := memPair(t, m, "127.1.0.1", "127.1.0.2")
	if el := time.Since(start); el < d {
		t.Errorf("handshake took %v, want >= one round trip (%v)", el, d)
	}

	start = time.Now()
	for i := range 10 {
		if _, err := client.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 10)
	if _, err := io.ReadFull(server, got); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < d {
		t.Errorf("bytes arrived after %v, want >= %v", el, d)
	}
	for i, b := range got {
		if int(b) != i {
			t.Fatalf("out of order: %v", got)
		}
	}
	// The reverse direction has no delay rule: a read deadline far
	// shorter than d would still pass, but only a lower bound is checked.
	if _, err := server.Write([]byte("r")); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// TestMemStress runs many concurrent echo connections while a link flaps,
// for the race detector.
func TestMemStress(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	l, err := m.Host("127.1.0.2").Listen("127.1.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	stop := make(chan struct{})
	flapped := make(chan struct{})
	go func() {
		defer close(flapped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				m.HealAll()
				return
			default:
			}
			if i%2 == 0 {
				m.Cut("127.1.0.1", "127.1.0.2")
			} else {
				m.Heal("127.1.0.1", "127.1.0.2")
			}
		}
	}()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			c, err := m.Host("127.1.0.1").Dial(testCtx(t, 10*time.Second), "127.1.0.2:7000")
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			msg := bytes.Repeat([]byte("0123456789"), 100)
			got := make([]byte, len(msg))
			for range 50 {
				if _, err := c.Write(msg); err != nil {
					t.Error(err)
					return
				}
				if _, err := io.ReadFull(c, got); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(got, msg) {
					t.Error("corrupted echo")
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-flapped
}

func TestMemBackpressure(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	client, server := memPair(t, m, "127.1.0.1", "127.1.0.2")
	if _, err := client.Write(make([]byte, sendBuffer)); err != nil {
		t.Fatal(err)
	}
	// The queue is full on a healthy link: the next write waits, and
	// its deadline ends the wait.
	client.SetWriteDeadline(time.Now().Add(30 * time.Millisecond))
	if n, err := client.Write([]byte("x")); n != 0 || !isTimeout(err) {
		t.Fatalf("write to a full queue: %d, %v; want timeout", n, err)
	}
	client.SetWriteDeadline(time.Time{})

	// A waiting writer resumes when the reader drains the queue.
	done := make(chan error, 1)
	go func() {
		_, err := client.Write([]byte("tail"))
		done <- err
	}()
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, sendBuffer+4)
	if _, err := io.ReadFull(server, buf); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(buf[sendBuffer:]) != "tail" {
		t.Fatalf("tail = %q", buf[sendBuffer:])
	}

	// A waiting writer is released when the link is cut.
	if _, err := client.Write(make([]byte, sendBuffer)); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := client.Write([]byte("more"))
		done <- err
	}()
	m.Cut("127.1.0.1", "127.1.0.2")
	if err := <-done; err != nil {
		t.Fatalf("writer not released by cut: %v", err)
	}
}

func TestMemDelayShrinkKeepsOrder(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	client, server := memPair(t, m, "127.1.0.1", "127.1.0.2")
	const d = 50 * time.Millisecond
	m.SetDelay("127.1.0.1", "127.1.0.2", d)
	start := time.Now()
	client.Write([]byte("first,"))
	m.SetDelay("127.1.0.1", "127.1.0.2", 0)
	client.Write([]byte("second"))
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 3)
	if _, err := io.ReadFull(server, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != "fir" {
		t.Fatalf("first bytes read %q: later write overtook an earlier one", buf)
	}
	if el := time.Since(start); el < d {
		t.Fatalf("delayed bytes arrived after %v", el)
	}
	rest, err := io.ReadAll(io.LimitReader(server, int64(len("st,second"))))
	if err != nil || string(rest) != "st,second" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}
