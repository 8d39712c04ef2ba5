package transport

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// testCtx returns a context that ends after d or when the test ends.
func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// memPair returns a connected stream pair: client on host from, server on
// host to.
func memPair(t testing.TB, m *MemNetwork, from, to string) (client, server net.Conn) {
	t.Helper()
	l, err := m.Host(to).Listen(to + ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	client, err = m.Host(from).Dial(testCtx(t, 5*time.Second), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// serveHealth serves the standard gRPC health service on l until the test
// ends and returns the health server (to flip statuses).
func serveHealth(t testing.TB, l net.Listener, srv *grpc.Server) *health.Server {
	t.Helper()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return hs
}
