package membership

import (
	"errors"
	"strings"
	"testing"

	"github.com/concord-kv/concord/transport"
)

func TestStartRejectsBadConfig(t *testing.T) {
	t.Parallel()
	mem := transport.NewMemNetwork(7)
	host := mem.Host("127.1.0.1")
	big := map[string]string{"blob": strings.Repeat("x", MaxMetaSize)}
	cases := []struct {
		name string
		cfg  Config
		is   error
	}{
		{"empty name", Config{BindAddr: "127.1.0.1:7946", Network: host}, nil},
		{"no bind", Config{Name: "a", Network: host}, nil},
		{"meta too large", Config{Name: "a", BindAddr: "127.1.0.1:7946", Network: host, Meta: big}, ErrMetaTooLarge},
		{"bind not an ip", Config{Name: "a", BindAddr: "localhost:7946", Network: host}, nil},
		{"advertise not an ip", Config{Name: "a", BindAddr: "127.1.0.1:7946", AdvertiseAddr: "node-a:7946", Network: host}, nil},
		{"unspecified bind without advertise", Config{Name: "a", BindAddr: "0.0.0.0:7946", Network: host}, nil},
		{"probe timeout above interval", Config{Name: "a", BindAddr: "127.1.0.1:7946", Network: host,
			Timing: Timing{ProbeInterval: 100e6, ProbeTimeout: 200e6}}, nil},
	}
	for _, tc := range cases {
		m, err := Start(tc.cfg)
		if err == nil {
			_ = m.Shutdown()
			t.Errorf("%s: Start succeeded", tc.name)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.is)
		}
	}
	// Failed starts released the port.
	m, err := Start(Config{Name: "a", BindAddr: "127.1.0.1:7946", Network: host})
	if err != nil {
		t.Fatalf("Start after failed starts: %v", err)
	}
	defer m.Shutdown()
}

func TestUpdateMetaTooLargeChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 8)
	n := c.start("a", hostIP(1), true, nil)
	err := n.m.UpdateMeta(ctx, map[string]string{"blob": strings.Repeat("x", MaxMetaSize)})
	if !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("UpdateMeta = %v, want ErrMetaTooLarge", err)
	}
	if got := n.m.LocalMember().Meta; got["ip"] != n.ip || len(got) != 1 {
		t.Fatalf("meta changed by a rejected update: %v", got)
	}
}

func TestShutdownIsIdempotentAndClosesEvents(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 9)
	n := c.start("a", hostIP(1), false, nil)
	if err := n.m.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := n.m.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	for range n.m.Events() {
	}
	if _, err := n.m.Join(ctx, "127.1.0.2:7946"); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Join after Shutdown = %v", err)
	}
	if err := n.m.Leave(ctx); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Leave after Shutdown = %v", err)
	}
	if err := n.m.UpdateMeta(ctx, nil); !errors.Is(err, ErrShutdown) {
		t.Fatalf("UpdateMeta after Shutdown = %v", err)
	}
	if st := n.m.LocalMember().State; st != StateDead {
		t.Fatalf("LocalMember().State after Shutdown = %v", st)
	}
}

func TestJoinUnreachableSeedIsAnError(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 10)
	n := c.start("a", hostIP(1), true, func(cfg *Config) { cfg.Timing.ProbeInterval = 50e6; cfg.Timing.ProbeTimeout = 25e6 })
	c.net.Host(hostIP(2)) // up, nothing listening: refused at once
	if got, err := n.m.Join(ctx, hostIP(2)+":7946"); err == nil || got != 0 {
		t.Fatalf("Join(refusing seed) = %d, %v; want 0 and an error", got, err)
	}
	if got, err := n.m.Join(ctx, n.addr); err != nil || got != 0 {
		t.Fatalf("Join(self) = %d, %v; want 0, nil", got, err)
	}
}

// The daemon hands Start a stream listener shared with gRPC; datagrams then
// bind the listener's ip:port on the Network.
func TestStreamListenerSharesItsPort(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 11)
	host := c.net.Host(hostIP(2))
	ln, err := host.Listen(hostIP(2) + ":0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	b := c.start("b", hostIP(2), true, func(cfg *Config) {
		cfg.BindAddr = ""
		cfg.StreamListener = ln
	})
	if got := b.m.LocalMember().Addr; got != ln.Addr().String() {
		t.Fatalf("advertised %s, want the listener's %s", got, ln.Addr())
	}
	a := c.start("a", hostIP(1), true, nil)
	if _, err := a.m.Join(ctx, ln.Addr().String()); err != nil {
		t.Fatalf("Join: %v", err)
	}
	waitConverged(ctx, t, []*testNode{a, b}, []*testNode{a, b})

	// A mismatched port is refused, and the listener is closed (Start owns it).
	ln2, err := host.Listen(hostIP(2) + ":0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	if m, err := Start(Config{Name: "c", BindAddr: hostIP(2) + ":1", StreamListener: ln2, Network: host}); err == nil {
		_ = m.Shutdown()
		t.Fatal("Start with a BindAddr port other than the listener's succeeded")
	}
	if _, err := ln2.Accept(); err == nil {
		t.Fatal("listener still open after a failed Start")
	}
}
