package transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/concord-kv/concord/transport/tlstest"
)

// serveLineEcho answers each line on l's connections with "echo: " + line.
func serveLineEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := io.WriteString(c, "echo: "+line); err != nil {
					return
				}
			}
		}()
	}
}

func rawRoundTrip(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := TCP().Dial(testCtx(t, 5*time.Second), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestSplitGRPC(t *testing.T) {
	t.Parallel()
	l, err := TCP().Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcL, other := SplitGRPC(l)
	if grpcL.Addr().String() != l.Addr().String() || other.Addr().String() != l.Addr().String() {
		t.Error("sub-listeners do not report the shared address")
	}
	serveHealth(t, grpcL, NewServer(nil))
	go serveLineEcho(other)
	t.Cleanup(func() { other.Close() })
	addr := l.Addr().String()

	pool := NewPool(PoolConfig{Network: TCP()})
	defer pool.Close()
	for range 3 {
		if err := check(t, pool, addr); err != nil {
			t.Fatalf("gRPC through split listener: %v", err)
		}
		// Includes a line starting with 'P' that is not the preface, and
		// a short one that ends before the preface length.
		for _, line := range []string{"hello", "PRI * HTTP/1.1 but not h2", "P"} {
			if got := rawRoundTrip(t, addr, line); got != "echo: "+line+"\n" {
				t.Fatalf("raw protocol through split listener: %q", got)
			}
		}
	}
}

func TestSplitGRPCTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "ca")
	cert, key := ca.Issue(t, dir, "node")
	serverTLS, clientTLS, err := LoadTLS(cert, key, ca.Write(t, dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := TCP().Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcL, other := SplitGRPC(l)
	serveHealth(t, grpcL, NewServer(serverTLS))
	go serveLineEcho(other)
	t.Cleanup(func() { other.Close() })
	pool := NewPool(PoolConfig{Network: TCP(), TLS: clientTLS})
	defer pool.Close()
	if err := check(t, pool, l.Addr().String()); err != nil {
		t.Fatalf("gRPC over TLS through split listener: %v", err)
	}
	if got := rawRoundTrip(t, l.Addr().String(), "gossip"); got != "echo: gossip\n" {
		t.Fatalf("raw: %q", got)
	}
}

func TestSplitGRPCClose(t *testing.T) {
	t.Parallel()
	l, err := TCP().Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcL, other := SplitGRPC(l)
	accepted := make(chan error, 1)
	go func() {
		_, err := grpcL.Accept()
		accepted <- err
	}()
	if err := grpcL.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if err := grpcL.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}

	// The other side still works while one is closed.
	go serveLineEcho(other)
	if got := rawRoundTrip(t, l.Addr().String(), "still here"); got != "echo: still here\n" {
		t.Fatalf("raw after closing the gRPC side: %q", got)
	}

	// Closing both closes the shared listener.
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if c, err := TCP().Dial(ctx, l.Addr().String()); err == nil {
		c.Close()
		t.Fatal("shared listener still accepting after both sides closed")
	}
}

func TestSplitGRPCUnderlyingClosed(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	l, err := m.Host("127.1.0.1").Listen("127.1.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcL, other := SplitGRPC(l)
	l.Close()
	for _, sl := range []net.Listener{grpcL, other} {
		if _, err := sl.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after the shared listener closed: %v", err)
		}
	}
}
