package ringsim

import (
	"context"
	"math/rand/v2"
	"time"
)

// runner holds the state of one Run.
type runner struct {
	cfg  Config
	c    *cluster
	mon  *monitor
	rng  *rand.Rand
	prog *progress
	rep  *Report
	// sched measures the process's scheduling latency (see schedGauge).
	sched *schedGauge
	// phaseStart is when the current phase began; stopped is when churn
	// stopped.
	phaseStart, stopped time.Time
}

// Run simulates a ring as cfg describes and returns its report. Phases:
// build (start and join Nodes nodes), settle (wait for the ideal ring),
// steady (measure lookup path lengths), and, when cfg.Churn > 0, churn
// (Poisson joins and crashes with continuous lookups) and quiesce (wait for
// the ideal ring again). The invariant sampler runs throughout. A phase that
// exceeds its budget ends the run early and is reported as a failure; Run
// returns an error only for an invalid Config. Every node and goroutine Run
// starts is stopped before it returns.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r := &runner{
		cfg:   cfg,
		c:     newCluster(cfg),
		mon:   newMonitor(cfg, start),
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x72696e6773696d)),
		prog:  &progress{w: cfg.Progress, start: start},
		rep:   &Report{Config: cfg, Started: start},
		sched: newSchedGauge(),
	}
	r.prog.printf("start", "%d nodes, seed %d, interval %v, rpc timeout %v, r=%d, grace %v, gossip probe %v",
		cfg.Nodes, cfg.Seed, cfg.Interval, cfg.RPCTimeout, cfg.SuccessorCount, cfg.Grace, cfg.Gossip.ProbeInterval)
	stopSampler := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		r.mon.sample(r.c, stopSampler)
	}()

	r.phases(ctx)

	close(stopSampler)
	<-sampled
	r.prog.printf("stop", "stopping %d nodes", r.c.liveCount())
	r.c.close()
	r.rep.Violations, r.rep.Samples, r.rep.SampleCost = r.mon.result()
	r.rep.Wall = time.Since(start)
	r.prog.printf("done", "%v, %d violations", r.rep.Wall.Round(time.Millisecond), len(r.rep.Violations))
	return r.rep, nil
}

// phases runs the phases in order, stopping at the first that fails.
func (r *runner) phases(ctx context.Context) {
	r.begin("build")
	err := r.build(ctx)
	r.end("build", err == nil, errString(err))
	if err != nil {
		return
	}
	r.begin("settle")
	_, ok := r.waitIdeal(ctx, "settle", r.phaseStart, r.cfg.SettleTimeout)
	r.end("settle", ok, "")
	if !ok {
		return
	}
	r.begin("steady")
	st := r.steady(ctx)
	r.rep.Steady = &st
	r.end("steady", ctx.Err() == nil, errString(ctx.Err()))
	if r.cfg.Churn == 0 || ctx.Err() != nil {
		return
	}
	r.begin("churn")
	ch := r.churn(ctx)
	r.rep.Churn = &ch
	r.end("churn", ctx.Err() == nil, errString(ctx.Err()))
	if ctx.Err() != nil {
		return
	}
	r.begin("quiesce")
	took, ok := r.waitIdeal(ctx, "quiesce", r.stopped, r.cfg.QuiesceTimeout)
	r.rep.Quiesce = took
	r.end("quiesce", ok, "")
}

func (r *runner) begin(phase string) {
	r.phaseStart = time.Now()
	r.mon.setPhase(phase)
	r.prog.printf(phase, "begins")
}

func (r *runner) end(phase string, ok bool, note string) {
	p := PhaseResult{Name: phase, Duration: time.Since(r.phaseStart), OK: ok, Note: note}
	if !ok && note == "" {
		p.Note = "not done within its budget"
	}
	r.rep.Phases = append(r.rep.Phases, p)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
