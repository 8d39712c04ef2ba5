package transport

import (
	"context"
	"errors"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/concord-kv/concord/internal/await"
)

// Idle connections are closed; a connection with a stream open is kept no
// matter how long the stream runs.
func TestPoolClosesIdleConnections(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	var addrs []string
	for _, ip := range []string{"127.1.1.1", "127.1.1.2"} {
		l, err := m.Host(ip).Listen(ip + ":7000")
		if err != nil {
			t.Fatal(err)
		}
		serveHealth(t, l, NewServer(nil))
		addrs = append(addrs, l.Addr().String())
	}
	pool := NewPool(PoolConfig{Network: m.Host("127.1.1.9"), IdleTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { pool.Close() })
	idle, streaming := addrs[0], addrs[1]
	if err := check(t, pool, idle); err != nil {
		t.Fatal(err)
	}
	cc, err := pool.Conn(streaming)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	before, _ := pool.Conn(idle)
	// Sweeps run inside Conn; keep calling it for a third address, which is
	// never dialled, until the idle connection has gone.
	await.Until(t, 10*time.Second, "idle connection closed", func() error {
		if _, err := pool.Conn("127.1.1.3:7000"); err != nil {
			return err
		}
		if pool.Len() != 2 { // streaming + the third address
			return errors.New("idle connection still pooled")
		}
		return nil
	})
	if after, _ := pool.Conn(idle); after == before {
		t.Fatal("Conn returned the evicted connection")
	}
	// The streaming connection outlived many idle timeouts and still works.
	if again, err := pool.Conn(streaming); err != nil || again != cc {
		t.Fatalf("streaming connection replaced (%v)", err)
	}
	cancel()
	if _, err := w.Recv(); err == nil {
		t.Fatal("stream still open after cancel")
	}
	if err := check(t, pool, streaming); err != nil {
		t.Fatalf("streaming connection was closed under its stream: %v", err)
	}
}
