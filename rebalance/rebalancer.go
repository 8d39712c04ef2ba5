package rebalance

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxParallelActions bounds the actions running at once, node-wide.
// Actions run in the background: a slow one (a proposal that times out)
// holds up only its own range, which later passes skip until it ends.
const maxParallelActions = 4

// Rebalancer moves the replicas of the ranges this node leads toward the
// placement rule. Its loop runs a pass on Trigger, every Interval, and
// after every successful action.
type Rebalancer struct {
	cfg     Config
	metrics *metrics
	wake    chan struct{}
	slots   chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	actions sync.WaitGroup

	mu      sync.Mutex
	started bool
	stopped bool
	ranges  map[uint64]*rangeState
	ended   uint64 // actions ended so far

	// downSeen is when the loop first saw each dead member whose View
	// entry has no DownSince. Only the loop goroutine touches it.
	downSeen map[string]time.Time
	// passes counts completed passes (tests wait on it).
	passes atomic.Uint64
}

// New validates cfg, fills in its defaults and registers the metrics. The
// loop starts with Start.
func New(cfg Config) (*Rebalancer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Rebalancer{
		cfg:      cfg,
		metrics:  m,
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, maxParallelActions),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		ranges:   make(map[uint64]*rangeState),
		downSeen: make(map[string]time.Time),
	}, nil
}

// Start starts the loop; its first pass runs at once. Start after Stop,
// or a second Start, does nothing.
func (r *Rebalancer) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return
	}
	r.started = true
	go r.run()
}

// Trigger asks for a pass now (a ring change, a membership event). It
// never blocks, and triggers that arrive while a pass is pending coalesce.
func (r *Rebalancer) Trigger() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stop ends the loop and waits for it and for the actions it started,
// whose contexts are cancelled. Safe to call more than once, and without
// Start.
func (r *Rebalancer) Stop() {
	r.mu.Lock()
	r.stopped = true
	started := r.started
	r.mu.Unlock()
	r.cancel()
	if started {
		<-r.done
	}
	r.actions.Wait()
}

func (r *Rebalancer) run() {
	defer close(r.done)
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	for {
		r.pass(r.ctx)
		select {
		case <-r.ctx.Done():
			return
		case <-r.wake:
		case <-tick.C:
		}
	}
}

// pass plans every range this node leads and starts the actions, each in
// the background, as far as free action slots allow; ranges whose action
// does not start are planned again by the next pass.
func (r *Rebalancer) pass(ctx context.Context) {
	defer func() {
		r.passes.Add(1)
		r.metrics.passes.Inc()
	}()
	now := r.cfg.Now()
	members := r.members(now)
	epoch := r.epoch()
	infos := r.cfg.Store.Ranges()
	r.forget(infos, epoch)
	pc := r.cfg.planConfig(now)
	// Learners whose addition is still being proposed do not show in any
	// descriptor yet, but they will need a snapshot. (Once applied, such a
	// learner counts twice until its action returns: the cap errs on the
	// safe side.)
	pc.SnapshotsInFlight = r.busyAdds()
	pp := planPass(infos, members, pc, r.heldSince(epoch))
	r.metrics.rangesLed.Set(float64(pp.led))
	r.metrics.outOfPlacement.Set(float64(pp.outOfPlacement))
	r.metrics.snapshots.Set(float64(pp.snapshots))
	for _, ra := range pp.actions {
		if ctx.Err() != nil {
			return
		}
		if ra.action.Kind == TransferLeadership && r.settling(ra.info.RangeID) {
			continue
		}
		select {
		case r.slots <- struct{}{}:
		default:
			return // every slot busy: the rest waits for a later pass
		}
		r.begin(ra)
		r.actions.Add(1)
		go func() {
			defer r.actions.Done()
			defer func() { <-r.slots }()
			err := r.execute(ctx, ra)
			r.end(ra, err)
			if err == nil {
				r.Trigger() // the range's next step can be planned now
			}
		}()
	}
}

// members reads the View, standing in the time this loop first saw a dead
// member for a DownSince the View left zero.
func (r *Rebalancer) members(now time.Time) []Member {
	ms := slices.Clone(r.cfg.View.Members())
	seen := make(map[string]bool, len(ms))
	for i := range ms {
		m := &ms[i]
		seen[m.Name] = true
		if m.Alive || m.Left || !m.DownSince.IsZero() {
			delete(r.downSeen, m.Name)
			continue
		}
		since, ok := r.downSeen[m.Name]
		if !ok {
			since = now
			r.downSeen[m.Name] = since
		}
		m.DownSince = since
	}
	for name := range r.downSeen {
		if !seen[name] {
			delete(r.downSeen, name)
		}
	}
	return ms
}
