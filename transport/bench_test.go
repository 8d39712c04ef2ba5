package transport

import (
	"io"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// BenchmarkMemConnThroughput streams 1 KiB writes through one in-memory
// connection to a reader with a 32 KiB buffer (like gRPC's).
func BenchmarkMemConnThroughput(b *testing.B) {
	m := NewMemNetwork(1)
	client, server := memPair(b, m, "127.1.0.1", "127.1.0.2")
	const size = 1 << 10
	b.SetBytes(size)
	b.ReportAllocs()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		want := int64(b.N) * size
		var got int64
		for got < want {
			n, err := server.Read(buf)
			if err != nil {
				done <- err
				return
			}
			got += int64(n)
		}
		done <- nil
	}()
	msg := make([]byte, size)
	b.ResetTimer()
	for range b.N {
		if _, err := client.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil && err != io.EOF {
		b.Fatal(err)
	}
}

// BenchmarkGRPCUnaryMem measures health Check calls over a MemNetwork,
// from parallel callers sharing one pooled connection.
func BenchmarkGRPCUnaryMem(b *testing.B) {
	m := NewMemNetwork(1)
	l, err := m.Host(srvIP).Listen(srvIP + ":7000")
	if err != nil {
		b.Fatal(err)
	}
	serveHealth(b, l, NewServer(nil))
	pool := NewPool(PoolConfig{Network: m.Host(cliIP), CallTimeout: 10 * time.Second})
	defer pool.Close()
	cc, err := pool.Conn(l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	client := healthpb.NewHealthClient(cc)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Check(b.Context(), &healthpb.HealthCheckRequest{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
