package kvsim

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// counters are the totals the progress line reads while clients run.
type counters struct {
	ops  atomic.Int64 // operations that succeeded
	errs atomic.Int64 // operations that failed
}

// startProgress prints one line a second to w (if not nil) with the
// throughput of the last second and the totals, until the returned
// function is called; that function waits for the printer to stop.
func startProgress(w io.Writer, label string, c *counters) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last, lastAt := int64(0), start
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				ops := c.ops.Load()
				rate := float64(ops-last) / now.Sub(lastAt).Seconds()
				fmt.Fprintf(w, "[%5.1fs] %s: %8.0f ops/s  (%d ops, %d errors)\n",
					now.Sub(start).Seconds(), label, rate, ops, c.errs.Load())
				last, lastAt = ops, now
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// logf prints a setup line to w, if w is not nil.
func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
