package raftwire

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock drives a tokenBucket without waiting: sleeping advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	slept  time.Duration
	sleeps int
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	c.sleeps++
	c.mu.Unlock()
	return ctx.Err()
}

// fakeBucket returns a bucket of rate bytes/s on a fake clock.
func fakeBucket(rate int64) (*tokenBucket, *fakeClock) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	b := newTokenBucket(rate)
	b.now, b.sleep = clock.Now, clock.Sleep
	b.last = clock.now
	return b, clock
}

func TestTokenBucketAccounting(t *testing.T) {
	t.Parallel()
	b, clock := fakeBucket(1000) // burst: 100 bytes
	steps := []struct {
		advance time.Duration
		take    int
		wait    time.Duration
	}{
		{0, 100, 0},                      // the burst
		{0, 100, 100 * time.Millisecond}, // 100 bytes of debt
		{50 * time.Millisecond, 50, 100 * time.Millisecond}, // 50 repaid, 50 more owed
		{time.Hour, 0, 0}, // refills, but only to the burst
		{0, 150, 50 * time.Millisecond},
		{0, 2000, 2050 * time.Millisecond}, // larger than the burst: allowed, in debt
	}
	for i, s := range steps {
		clock.advance(s.advance)
		// Float accounting: equal to the nanosecond or so.
		if got := b.reserve(s.take); got < s.wait-time.Microsecond || got > s.wait+time.Microsecond {
			t.Errorf("step %d: take %d after %v: wait %v, want %v", i, s.take, s.advance, got, s.wait)
		}
	}
	if got := newTokenBucket(-1).reserve(1 << 30); got != 0 {
		t.Errorf("unlimited bucket asked to wait %v", got)
	}
}

// An outgoing snapshot pays for every byte at the node's rate: on a fake
// clock, the total wait is exactly (bytes - burst) / rate.
func TestSnapshotRateLimited(t *testing.T) {
	t.Parallel()
	const rate = 1 << 20
	const count, size = 64, 64 << 10 // 4 MiB: 4 s at 1 MiB/s
	c := newCluster(t)
	a := c.add("a", "127.5.6.1", func(cfg *Config) { cfg.SnapshotRate = rate })
	b := c.add("b", "127.5.6.2", nil)
	bucket, clock := fakeBucket(rate)
	a.tr.limiter = bucket // before any snapshot
	b.rec.setSnapshot(verifyChunks(nil, count, size))
	if err := a.tr.SendSnapshot(testCtx(t, eventually), "b", nil, produce(count, size)); err != nil {
		t.Fatal(err)
	}
	bytes, burst := float64(count*size), float64(rate)/10
	want := time.Duration((bytes - burst) / rate * float64(time.Second))
	if diff := clock.slept - want; diff < -time.Millisecond || diff > time.Millisecond {
		t.Errorf("waited %v in %d sleeps, want %v", clock.slept, clock.sleeps, want)
	}
	if clock.sleeps < count-2 {
		t.Errorf("%d sleeps for %d chunks: the rate was not applied per chunk", clock.sleeps, count)
	}
}
