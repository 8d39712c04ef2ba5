package ringsim

import (
	"sync"
	"time"
)

// Violation is one broken invariant: the first sample at which a failing
// condition qualified as a violation, with the seed that reproduces the run.
type Violation struct {
	Kind    string
	Subject string        // a node name, or "ring"
	Phase   string        // build, settle, steady, churn or quiesce
	At      time.Duration // since the start of the run
	Since   time.Duration // how long the condition had been failing
	Detail  string
	Seed    int64
}

// monitor turns per-sample findings into violations.
//
// Node pointers are read one node at a time while the nodes run, so a sample
// is not an atomic snapshot and can show a combination of pointers that
// never existed at one instant. Therefore a condition must fail in at least
// two consecutive samples before it counts, except the ordering of one
// node's successor list, which is read atomically and counts at once.
// Liveness conditions (see graceful) must moreover fail continuously for
// Config.Grace: the protocol needs a few failure-detection times and
// stabilization rounds to repair a crash or absorb a join. A condition that
// keeps failing is one violation (one episode), not one per sample.
type monitor struct {
	cfg   Config
	start time.Time

	mu         sync.Mutex
	phase      string
	episodes   map[episodeKey]*episode
	violations []Violation
	samples    int
	sampleCost time.Duration
}

type episodeKey struct{ kind, subject string }

type episode struct {
	first    time.Time
	samples  int
	reported bool
}

// graceful lists the kinds that must fail for Config.Grace to count.
var graceful = map[string]bool{
	kindLiveSuccessor: true,
	kindNoRing:        true,
	kindReachRing:     true,
	kindOnRing:        true,
}

func newMonitor(cfg Config, start time.Time) *monitor {
	return &monitor{cfg: cfg, start: start, phase: "build", episodes: make(map[episodeKey]*episode)}
}

// setPhase names the phase that later violations are attributed to.
func (m *monitor) setPhase(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phase = p
}

// observe records one sample's findings, taken at now.
func (m *monitor) observe(now time.Time, findings []finding, cost time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples++
	m.sampleCost += cost
	seen := make(map[episodeKey]bool, len(findings))
	for _, f := range findings {
		k := episodeKey{f.kind, f.subject}
		seen[k] = true
		e := m.episodes[k]
		if e == nil {
			e = &episode{first: now}
			m.episodes[k] = e
		}
		e.samples++
		if e.reported || !m.qualifies(f.kind, e, now) {
			continue
		}
		e.reported = true
		m.addLocked(Violation{Kind: f.kind, Subject: f.subject, At: now.Sub(m.start), Since: now.Sub(e.first), Detail: f.detail})
	}
	for k := range m.episodes {
		if !seen[k] {
			delete(m.episodes, k)
		}
	}
}

func (m *monitor) qualifies(kind string, e *episode, now time.Time) bool {
	switch {
	case kind == kindOrderedSuccessors:
		return true
	case e.samples < 2:
		return false
	case graceful[kind]:
		return now.Sub(e.first) >= m.cfg.Grace
	default:
		return true
	}
}

// report records a violation found outside the sampler (ideal ring, steady
// lookups).
func (m *monitor) report(kind, subject, detail string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addLocked(Violation{Kind: kind, Subject: subject, At: time.Since(m.start), Detail: detail})
}

func (m *monitor) addLocked(v Violation) {
	v.Phase = m.phase
	v.Seed = m.cfg.Seed
	m.violations = append(m.violations, v)
}

// result returns the violations so far, the number of samples and their mean
// cost.
func (m *monitor) result() ([]Violation, int, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var mean time.Duration
	if m.samples > 0 {
		mean = m.sampleCost / time.Duration(m.samples)
	}
	return append([]Violation(nil), m.violations...), m.samples, mean
}

// sample runs the invariant checks every Config.SampleEvery until stop is
// closed.
func (m *monitor) sample(c *cluster, stop <-chan struct{}) {
	t := time.NewTicker(m.cfg.SampleEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			begin := time.Now()
			findings := checkRing(c.snapshot(), m.cfg.SuccessorCount)
			m.observe(begin, findings, time.Since(begin))
		}
	}
}
