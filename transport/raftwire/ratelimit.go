package raftwire

import (
	"context"
	"sync"
	"time"
)

// tokenBucket limits a byte rate. Tokens accrue at rate per second up to
// burst; a caller takes what it needs at once and, if that leaves the
// bucket in debt, waits until the debt would be repaid. Taking before
// waiting (a reservation) serves callers in arrival order and lets a
// request larger than the burst through without starving it.
//
// now and sleep are the clock; tests replace them to check the accounting
// without waiting.
type tokenBucket struct {
	rate  float64 // tokens per second; <= 0 means unlimited
	burst float64

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	tokens float64 // may be negative: debt of earlier reservations
	last   time.Time
}

// newTokenBucket returns a full bucket of rate bytes per second whose burst
// is a tenth of a second's worth (at least one byte): enough to smooth
// scheduling jitter, too little to defeat the limit.
func newTokenBucket(rate int64) *tokenBucket {
	b := &tokenBucket{rate: float64(rate), now: time.Now, sleep: sleepCtx}
	b.burst = max(b.rate/10, 1)
	b.tokens = b.burst
	b.last = b.now()
	return b
}

// reserve takes n tokens and returns how long the caller must wait before
// using them.
func (b *tokenBucket) reserve(n int) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed.Seconds()*b.rate)
		b.last = now
	}
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// wait takes n tokens, waiting as long as the rate demands. If ctx ends
// first the tokens stay taken: the limit errs on the slow side.
func (b *tokenBucket) wait(ctx context.Context, n int) error {
	d := b.reserve(n)
	if d <= 0 {
		return nil
	}
	return b.sleep(ctx, d)
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
