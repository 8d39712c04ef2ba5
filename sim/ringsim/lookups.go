package ringsim

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// lookupJob is one lookup to make: from origin, of a random id.
type lookupJob struct {
	origin *simNode
	id     uint64
}

// LookupStats summarises a set of lookups.
type LookupStats struct {
	Issued    int // lookups whose origin stayed live throughout
	Failed    int // returned an error
	Dead      int // named a node that was not live at any time during the lookup
	Misrouted int // named a live node while another, surely live, node owned the id
	Skipped   int // not issued because every worker was busy (the process is overloaded)
	// Hops holds the path length of every successful lookup.
	Hops []int
}

// Wrong is the number of answers that named the wrong owner.
func (s LookupStats) Wrong() int { return s.Dead + s.Misrouted }

// recorder collects lookup outcomes from concurrent workers.
type recorder struct {
	mu    sync.Mutex
	stats LookupStats
}

// run performs one lookup and judges it against the history.
func (r *recorder) run(ctx context.Context, c *cluster, j lookupJob) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	defer cancel()
	start := time.Now()
	tr, err := j.origin.ring.Trace(ctx, j.id)
	end := time.Now()
	if crashed, ok := c.hist.crashedAt(j.origin.name); ok && !crashed.After(end) {
		// The origin died under the lookup: its failure says nothing about
		// the ring.
		return
	}
	var v verdict
	if err == nil {
		v = c.hist.judge(j.id, tr.Owner.Name, start, end)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Issued++
	switch {
	case err != nil:
		r.stats.Failed++
	case v == answerDead:
		r.stats.Dead++
	case v == answerMisrouted:
		r.stats.Misrouted++
	default:
		r.stats.Hops = append(r.stats.Hops, tr.Hops)
	}
}

func (r *recorder) skipped() {
	r.mu.Lock()
	r.stats.Skipped++
	r.mu.Unlock()
}

func (r *recorder) result() LookupStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Hops = append([]int(nil), s.Hops...)
	return s
}

// measureLookups makes count lookups from random live nodes of random ids,
// with cfg.Workers in flight, and waits for them.
func measureLookups(ctx context.Context, c *cluster, rng *rand.Rand, count int) LookupStats {
	rec := &recorder{}
	jobs, wait := lookupWorkers(ctx, c, rec)
	for i := 0; i < count && ctx.Err() == nil; i++ {
		o := c.randomLive(rng)
		if o == nil {
			break
		}
		jobs <- lookupJob{origin: o, id: rng.Uint64()}
	}
	close(jobs)
	wait()
	return rec.result()
}

// lookupLoad issues lookups at cfg.LookupRate per second from random live
// nodes into rec until stop is closed, and waits for those in flight. A tick that
// finds every worker busy is counted as skipped rather than queued, so an
// overloaded process shows up in the report instead of as a growing
// backlog.
func lookupLoad(ctx context.Context, c *cluster, rng *rand.Rand, rec *recorder, stop <-chan struct{}) {
	jobs, wait := lookupWorkers(ctx, c, rec)
	t := time.NewTicker(time.Duration(float64(time.Second) / c.cfg.LookupRate))
	defer t.Stop()
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-ctx.Done():
			break loop
		case <-t.C:
			o := c.randomLive(rng)
			if o == nil {
				continue
			}
			select {
			case jobs <- lookupJob{origin: o, id: rng.Uint64()}:
			default:
				rec.skipped()
			}
		}
	}
	close(jobs)
	wait()
}

// lookupWorkers starts cfg.Workers goroutines running the lookups sent on
// jobs into rec. The caller closes jobs, then calls wait.
func lookupWorkers(ctx context.Context, c *cluster, rec *recorder) (jobs chan<- lookupJob, wait func()) {
	ch := make(chan lookupJob)
	var wg sync.WaitGroup
	for w := 0; w < c.cfg.Workers; w++ {
		wg.Go(func() {
			for j := range ch {
				rec.run(ctx, c, j)
			}
		})
	}
	return ch, wg.Wait
}
