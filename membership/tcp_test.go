package membership

import (
	"maps"
	"net"
	"slices"
	"testing"

	"github.com/concord-kv/concord/transport"
)

// Over the real network with port 0: the stream port is chosen first and the
// datagram endpoint binds the same number before memberlist starts.
func TestRealNetworkWithPortZero(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	start := func(name string) *testNode {
		m, err := Start(Config{
			Name:     name,
			BindAddr: "127.0.0.1:0",
			Network:  transport.TCP(),
			Meta:     map[string]string{"name": name},
			Timing:   FastTiming(),
			Logger:   testLogger(),
		})
		if err != nil {
			t.Fatalf("Start(%s): %v", name, err)
		}
		n := &testNode{name: name, m: m, rec: record(m.Events())}
		n.addr = m.LocalMember().Addr
		t.Cleanup(func() { _ = m.Shutdown(); <-n.rec.done })
		return n
	}
	a, b := start("a"), start("b")
	for _, n := range []*testNode{a, b} {
		host, port, err := net.SplitHostPort(n.addr)
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Fatalf("%s advertises %q", n.name, n.addr)
		}
	}
	if got, err := b.m.Join(ctx, a.addr); err != nil || got != 1 {
		t.Fatalf("Join = %d, %v", got, err)
	}
	waitConverged(ctx, t, []*testNode{a, b}, []*testNode{a, b})
	got, _ := a.m.Member("b")
	if got.Addr != b.addr || !maps.Equal(got.Meta, map[string]string{"name": "b"}) {
		t.Fatalf("a sees b as %+v", got)
	}
	if err := b.m.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	waitUntil(ctx, t, "a receives Left for b", func() bool {
		_, ok := a.rec.find(Left, "b", nil)
		return ok
	})
	if !slices.Equal(names(a.m.Members()), []string{"a"}) {
		t.Fatalf("a's members after b left: %v", names(a.m.Members()))
	}
}
