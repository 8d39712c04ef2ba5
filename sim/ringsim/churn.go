package ringsim

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ChurnStats counts the membership events of the churn phase.
type ChurnStats struct {
	Joins        int // fresh nodes that joined
	JoinFailures int // fresh nodes that could not join (and were stopped)
	Crashes      int // live nodes crashed
}

// churner drives membership events as a Poisson process.
type churner struct {
	c   *cluster
	rng *rand.Rand

	joins, joinFailures, crashes atomic.Int64
	joining                      sync.WaitGroup
}

// run generates events until stop is closed: inter-arrival times are
// exponential with mean Interval/Churn, and each event is a join of a fresh
// node or a crash of a random live node with equal probability. A crash that
// would leave fewer than MinLive live nodes becomes a join. Joins run in
// their own goroutines (a join takes several round trips and must not delay
// the next event); run waits for them before returning.
func (ch *churner) run(ctx context.Context, stop <-chan struct{}) ChurnStats {
	cfg := ch.c.cfg
	mean := float64(cfg.Interval) / cfg.Churn
	timer := time.NewTimer(time.Duration(ch.rng.ExpFloat64() * mean))
	defer timer.Stop()
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-ctx.Done():
			break loop
		case <-timer.C:
			ch.event(ctx)
			timer.Reset(time.Duration(ch.rng.ExpFloat64() * mean))
		}
	}
	ch.joining.Wait()
	return ChurnStats{Joins: int(ch.joins.Load()), JoinFailures: int(ch.joinFailures.Load()), Crashes: int(ch.crashes.Load())}
}

func (ch *churner) event(ctx context.Context) {
	crash := ch.rng.IntN(2) == 0
	if crash && ch.c.liveCount() > ch.c.cfg.MinLive {
		if s := ch.c.randomLive(ch.rng); s != nil {
			ch.c.crash(s)
			ch.crashes.Add(1)
			return
		}
	}
	// The joiner gets its own random source, seeded from the churn's, so
	// the choices stay a function of the seed whatever order joins finish
	// in.
	rng := rand.New(rand.NewPCG(ch.rng.Uint64(), ch.rng.Uint64()))
	ch.joining.Go(func() {
		s, err := ch.c.start()
		if err == nil {
			err = ch.c.join(ctx, s, rng, 2)
		}
		if err != nil {
			ch.joinFailures.Add(1)
			return
		}
		ch.joins.Add(1)
	})
}
