package transport

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/concord-kv/concord/internal/await"
)

const (
	srvIP = "127.1.0.1"
	cliIP = "127.1.0.2"
)

// grpcMemSetup serves health on srvIP and returns its address and a pool on
// cliIP with the given call timeout.
func grpcMemSetup(t *testing.T, m *MemNetwork, callTimeout time.Duration) (addr string, pool *Pool) {
	t.Helper()
	l, err := m.Host(srvIP).Listen(srvIP + ":7000")
	if err != nil {
		t.Fatal(err)
	}
	serveHealth(t, l, NewServer(nil))
	pool = NewPool(PoolConfig{Network: m.Host(cliIP), CallTimeout: callTimeout})
	t.Cleanup(func() { pool.Close() })
	return l.Addr().String(), pool
}

func check(t *testing.T, pool *Pool, addr string) error {
	t.Helper()
	cc, err := pool.Conn(addr)
	if err != nil {
		return err
	}
	// No deadline on purpose: the pool must add CallTimeout.
	resp, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err == nil && resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health status %v", resp.Status)
	}
	return err
}

func TestGRPCMemCallsAndPoolReuse(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	addr, pool := grpcMemSetup(t, m, 5*time.Second)
	for range 10 {
		if err := check(t, pool, addr); err != nil {
			t.Fatal(err)
		}
	}
	c1, _ := pool.Conn(addr)
	c2, _ := pool.Conn(addr)
	if c1 != c2 {
		t.Error("Conn returned different connections for one address")
	}
	if s := m.Stats(); s.ConnsOpened != 1 {
		t.Errorf("10 calls opened %d connections, want 1", s.ConnsOpened)
	}

	pool.Drop(addr)
	await.Until(t, 10*time.Second, "dropped connection shut down", func() error {
		if st := c1.GetState(); st != connectivity.Shutdown {
			return fmt.Errorf("dropped conn state %v", st)
		}
		return nil
	})
	if err := check(t, pool, addr); err != nil {
		t.Fatalf("call after Drop: %v", err)
	}
	if c3, _ := pool.Conn(addr); c3 == c1 {
		t.Error("Drop did not forget the connection")
	}

	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Conn(addr); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Conn after Close: %v", err)
	}
}

// blackholeCall expects a call to fail with DeadlineExceeded after about
// the call timeout.
func blackholeCall(t *testing.T, pool *Pool, addr string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	err := check(t, pool, addr)
	el := time.Since(start)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("call to black-holed peer: %v, want DeadlineExceeded", err)
	}
	if el < timeout || el > timeout+3*time.Second {
		t.Fatalf("call failed after %v, want about %v", el, timeout)
	}
}

func TestGRPCMemBlackhole(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	const timeout = 300 * time.Millisecond
	addr, pool := grpcMemSetup(t, m, timeout)
	if err := check(t, pool, addr); err != nil {
		t.Fatal(err)
	}
	// Established connection: the request bytes are held by the cut.
	m.Cut(srvIP, cliIP)
	blackholeCall(t, pool, addr, timeout)
	// Fresh connection: the dial hangs.
	pool.Drop(addr)
	blackholeCall(t, pool, addr, timeout)

	// After healing, the pool reconnects quickly (short backoff).
	m.HealAll()
	ctx := testCtx(t, 10*time.Second)
	for check(t, pool, addr) != nil {
		if ctx.Err() != nil {
			t.Fatal("no recovery after heal")
		}
	}
}

func TestGRPCMemPeerRestart(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	addr, pool := grpcMemSetup(t, m, 300*time.Millisecond)
	if err := check(t, pool, addr); err != nil {
		t.Fatal(err)
	}
	m.Crash(srvIP)
	if err := check(t, pool, addr); err == nil {
		t.Fatal("call to crashed peer succeeded")
	}
	m.Restart(srvIP)
	l, err := m.Host(srvIP).Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	serveHealth(t, l, NewServer(nil))
	ctx := testCtx(t, 10*time.Second)
	start := time.Now()
	for check(t, pool, addr) != nil {
		if ctx.Err() != nil {
			t.Fatal("no recovery after restart")
		}
	}
	t.Logf("reachable again %v after restart", time.Since(start))
}

func TestGRPCMemRPCLoss(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	const timeout = 200 * time.Millisecond
	addr, pool := grpcMemSetup(t, m, timeout)

	m.SetLoss(cliIP, srvIP, 0)
	for range 20 {
		if err := check(t, pool, addr); err != nil {
			t.Fatalf("p=0 call failed: %v", err)
		}
	}
	m.SetLoss(cliIP, srvIP, 1)
	for range 2 {
		blackholeCall(t, pool, addr, timeout)
	}
	m.HealAll()
	m.SetLoss("", srvIP, 1) // wildcards apply too
	blackholeCall(t, pool, addr, timeout)
	if s := m.Stats(); s.RPCsDropped != 3 {
		t.Errorf("RPCsDropped = %d, want 3", s.RPCsDropped)
	}
	// Loss from server to client does not apply to client calls.
	m.HealAll()
	m.SetLoss(srvIP, cliIP, 1)
	if err := check(t, pool, addr); err != nil {
		t.Fatalf("reverse-direction loss dropped a call: %v", err)
	}
}

func TestGRPCMemStreamDeadline(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	const timeout = 200 * time.Millisecond
	addr, pool := grpcMemSetup(t, m, timeout)
	cc, err := pool.Conn(addr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w, err := healthpb.NewHealthClient(cc).Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	// Watch never ends by itself: the pool's deadline must end it. The
	// client sees DeadlineExceeded, or the Canceled status the health
	// server sends when the propagated deadline fires there first.
	_, err = w.Recv()
	if c := status.Code(err); c != codes.DeadlineExceeded && c != codes.Canceled {
		t.Fatalf("second Recv: %v, want the deadline to end the stream", err)
	}
	if el := time.Since(start); el < timeout*9/10 {
		t.Fatalf("stream ended after %v, before its deadline", el)
	}
}

func TestPoolRequiresNetwork(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("NewPool without Network did not panic")
		}
	}()
	NewPool(PoolConfig{})
}

var _ net.Listener = (*memListener)(nil)
