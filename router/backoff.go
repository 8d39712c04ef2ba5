package router

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is a jittered exponential backoff: the n-th wait is drawn
// uniformly from [d/2, d] with d = min(max, min·2^n), so that routers
// retrying the same range after a leader change spread out.
type backoff struct {
	min, max time.Duration
	next     time.Duration
}

func newBackoff(min, max time.Duration) backoff {
	return backoff{min: min, max: max, next: min}
}

// wait sleeps for the next interval, or until ctx ends (then it returns
// ctx's error).
func (b *backoff) wait(ctx context.Context) error {
	d := b.next
	b.next = min(2*b.next, b.max)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
