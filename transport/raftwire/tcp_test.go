package raftwire

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/transport"
)

// Smoke test on real loopback sockets: messages both ways and a snapshot.
func TestTCPSmoke(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	tcp := func(name string) *node {
		rec := newRecorder()
		return c.serve(Config{
			Node:          name,
			Network:       transport.TCP(),
			Resolve:       c.resolve,
			Handler:       rec,
			OnUnreachable: rec.unreachable,
		}, rec, "127.0.0.1:0")
	}
	a, b := tcp("a"), tcp("b")
	const n = 500
	for i := uint64(1); i <= n; i++ {
		a.tr.Send("b", msg(i%4+1, i, 64))
		b.tr.Send("a", msg(i%4+1, i, 64))
	}
	for _, pair := range []struct{ from, to *node }{{a, b}, {b, a}} {
		await.Until(t, eventually, pair.from.name+" -> "+pair.to.name, func() error {
			if got := pair.to.rec.count(pair.from.name); got != n {
				return fmt.Errorf("%d of %d", got, n)
			}
			return nil
		})
		if err := checkSequence(pair.to.rec.received(pair.from.name), 1, func(i uint64) uint64 { return i%4 + 1 }); err != nil {
			t.Fatal(err)
		}
	}
	b.rec.setSnapshot(verifyChunks([]byte("h"), 16, 32<<10))
	if err := a.tr.SendSnapshot(testCtx(t, eventually), "b", []byte("h"), produce(16, 32<<10)); err != nil {
		t.Fatal(err)
	}
}
