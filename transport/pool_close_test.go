package transport

import (
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// Drop closes in the background, and Close waits for those closes: when it
// returns, every connection the pool ever handed out is shut down.
func TestPoolCloseWaitsForDroppedConnections(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	addr, pool := grpcMemSetup(t, m, 5*time.Second)
	if err := check(t, pool, addr); err != nil {
		t.Fatal(err)
	}
	dropped, _ := pool.Conn(addr)
	pool.Drop(addr)
	if err := check(t, pool, addr); err != nil { // a fresh connection
		t.Fatal(err)
	}
	current, _ := pool.Conn(addr)
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	for i, cc := range []*grpc.ClientConn{dropped, current} {
		if st := cc.GetState(); st != connectivity.Shutdown {
			t.Errorf("connection %d (of dropped, current) is %v after Close", i, st)
		}
	}
}
