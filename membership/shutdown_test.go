package membership

import (
	"fmt"
	"runtime"
	"testing"
)

// Not parallel: it counts the process's goroutines, so it runs before the
// parallel tests start. After Shutdown, neither this package's goroutines
// nor memberlist's remain.
func TestShutdownReleasesGoroutines(t *testing.T) {
	ctx := testContext(t)
	before := runtime.NumGoroutine()
	c := newCluster(t, 12)
	nodes := c.startN(ctx, 3)
	if err := nodes[2].m.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	for _, n := range nodes {
		_ = n.m.Shutdown()
		<-n.rec.done
	}
	waitUntil(ctx, t, fmt.Sprintf("goroutines back to %d", before), func() bool {
		return runtime.NumGoroutine() <= before
	})
}
