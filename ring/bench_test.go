package ring_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/concord-kv/concord/ring"
	"github.com/concord-kv/concord/ring/ringcheck"
	"github.com/concord-kv/concord/transport"
)

// BenchmarkLookupLoopback16 measures Lookup on a 16-node ring whose nodes
// talk real gRPC over loopback TCP, after the ring is ideal and fingers are
// fresh. It reports the mean hops per lookup next to the time per lookup.
func BenchmarkLookupLoopback16(b *testing.B) {
	var nodes []*Node
	for i := range 16 {
		n := New(Config{
			Name:              fmt.Sprintf("b%d", i),
			BindAddr:          "127.0.0.1:0",
			Network:           transport.TCP(),
			StabilizeInterval: 20 * time.Millisecond,
		})
		if err := n.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(n.Stop)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if i == 0 {
			err := n.Create()
			if err != nil {
				b.Fatal(err)
			}
		} else if err := n.Join(ctx, nodes[0].Address()); err != nil {
			b.Fatal(err)
		}
		cancel()
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for ringcheck.Ideal(nodes, DefaultSuccessorCount) != nil || nodes[0].Stats().StabilizeRounds < 100 {
		if time.Now().After(deadline) {
			b.Fatal("ring did not settle")
		}
		<-time.After(20 * time.Millisecond)
	}
	var hops, next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			n := nodes[i%16]
			tr, err := n.Trace(context.Background(), n.Position([]byte(strconv.FormatInt(i, 10))))
			if err != nil {
				b.Fatal(err)
			}
			hops.Add(int64(tr.Hops))
		}
	})
	b.ReportMetric(float64(hops.Load())/float64(b.N), "hops/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
