package router

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a jittered exponential backoff: the n-th wait is drawn
// uniformly from [d/2, d] with d = min(max, min·2^n), so that callers
// retrying the same range after a leader change spread out. The router
// uses it between attempts, and so does the remote client (api/client).
type Backoff struct {
	min, max time.Duration
	next     time.Duration
}

// NewBackoff returns a Backoff whose first wait is about min.
func NewBackoff(min, max time.Duration) Backoff {
	return Backoff{min: min, max: max, next: min}
}

// Wait sleeps for the next interval, or until ctx ends (then it returns
// ctx's error).
func (b *Backoff) Wait(ctx context.Context) error {
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
