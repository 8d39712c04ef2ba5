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
// fresh, with no stabilization running during the measurement. It reports the mean hops per lookup next to the time per lookup.
func BenchmarkLookupLoopback16(b *testing.B) {
	var nodes []*Node
	for i := range 16 {
		n := New(Config{
			Name:              fmt.Sprintf("b%d", i),
			BindAddr:          "127.0.0.1:0",
			Network:           transport.TCP(),
			StabilizeInterval: -1, // rounds are driven below, then stop: no background load
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
	// Enough rounds for an ideal ring and fresh fingers (64 finger slots,
	// several per round once the ring is settled).
	for round := 0; round < 80 || ringcheck.Ideal(nodes, DefaultSuccessorCount) != nil; round++ {
		if round > 400 {
			b.Fatal("ring did not settle")
		}
		for _, n := range nodes {
			n.Stabilize(context.Background())
		}
	}
	lookup := func(b *testing.B, i int64, hops *atomic.Int64) {
		n := nodes[i%16]
		tr, err := n.Trace(context.Background(), n.Position([]byte(strconv.FormatInt(i, 10))))
		if err != nil {
			b.Error(err)
			return
		}
		hops.Add(int64(tr.Hops))
	}
	report := func(b *testing.B, hops *atomic.Int64) {
		b.ReportMetric(float64(hops.Load())/float64(b.N), "hops/op")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	}
	// serial: one lookup at a time, so ns/op is the latency of a lookup.
	b.Run("serial", func(b *testing.B) {
		var hops atomic.Int64
		for i := range b.N {
			lookup(b, int64(i), &hops)
		}
		report(b, &hops)
	})
	// parallel64: 64 concurrent callers per CPU, for throughput.
	b.Run("parallel64", func(b *testing.B) {
		var hops, next atomic.Int64
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				lookup(b, next.Add(1), &hops)
			}
		})
		report(b, &hops)
	})
}
