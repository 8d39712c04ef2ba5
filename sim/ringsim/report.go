package ringsim

import (
	"fmt"
	"strings"
	"time"
)

// Report is the outcome of one Run.
type Report struct {
	// Config is the effective configuration, defaults filled in.
	Config  Config
	Started time.Time
	Wall    time.Duration
	Phases  []PhaseResult
	// Steady is nil if the run did not reach steady state.
	Steady *SteadyResult
	// Churn is nil if the run had no churn phase (or did not reach it).
	Churn *ChurnResult
	// Quiesce is the time from churn stopping until the ring was ideal
	// (valid when the quiesce phase is OK).
	Quiesce    time.Duration
	Violations []Violation
	// Samples is the number of invariant samples taken; SampleCost their
	// mean duration.
	Samples    int
	SampleCost time.Duration
}

// PhaseResult is how one phase went.
type PhaseResult struct {
	Name     string
	Duration time.Duration
	OK       bool
	Note     string
}

// SteadyResult is the steady-state lookup measurement.
type SteadyResult struct {
	Nodes   int
	Lookups LookupStats
	Path    PathStats
}

// ChurnResult is the churn phase's measurement.
type ChurnResult struct {
	Duration  time.Duration
	Events    ChurnStats
	Lookups   LookupStats
	Path      PathStats
	LiveAtEnd int
}

// Passed reports whether every phase completed and no invariant was
// violated.
func (r *Report) Passed() bool {
	for _, p := range r.Phases {
		if !p.OK {
			return false
		}
	}
	return len(r.Phases) > 0 && len(r.Violations) == 0
}

// table is a titled grid of cells, rendered as text or markdown.
type table struct {
	title  string
	header []string
	rows   [][]string
}

// tables lays the report out as tables, shared by both renderings.
func (r *Report) tables() []table {
	c := r.Config
	out := []table{{
		title:  "Configuration",
		header: []string{"nodes", "seed", "churn/interval", "duration", "interval", "rpc timeout", "r", "gossip probe", "grace", "wall"},
		rows: [][]string{{
			fmt.Sprint(c.Nodes), fmt.Sprint(c.Seed), fmt.Sprint(c.Churn), dur(c.Duration), dur(c.Interval),
			dur(c.RPCTimeout), fmt.Sprint(c.SuccessorCount), dur(c.Gossip.ProbeInterval), dur(c.Grace), dur(r.Wall),
		}},
	}}
	ph := table{title: "Phases", header: []string{"phase", "duration", "result", "note"}}
	for _, p := range r.Phases {
		ph.rows = append(ph.rows, []string{p.Name, dur(p.Duration), okString(p.OK), oneLine(p.Note)})
	}
	out = append(out, ph)
	if s := r.Steady; s != nil {
		out = append(out, table{
			title:  fmt.Sprintf("Steady-state lookups (N = %d)", s.Nodes),
			header: []string{"lookups", "failed", "wrong", "mean hops", "p50", "p99", "max", "½·log2 N"},
			rows: [][]string{{
				fmt.Sprint(s.Lookups.Issued), fmt.Sprint(s.Lookups.Failed), fmt.Sprint(s.Lookups.Wrong()),
				fmt.Sprintf("%.2f", s.Path.Mean), fmt.Sprint(s.Path.P50), fmt.Sprint(s.Path.P99),
				fmt.Sprint(s.Path.Max), fmt.Sprintf("%.2f", s.Path.HalfLog2N),
			}},
		})
	}
	if ch := r.Churn; ch != nil {
		l := ch.Lookups
		quiesce := "not reached"
		if p := r.phase("quiesce"); p != nil && p.OK {
			quiesce = dur(r.Quiesce)
		}
		out = append(out, table{
			title: fmt.Sprintf("Churn (%v at %v events per interval)", dur(ch.Duration), c.Churn),
			header: []string{"joins", "join failures", "crashes", "live at end", "lookups", "failed", "wrong owner",
				"dead owner", "misrouted", "skipped", "mean hops", "quiesce"},
			rows: [][]string{{
				fmt.Sprint(ch.Events.Joins), fmt.Sprint(ch.Events.JoinFailures), fmt.Sprint(ch.Events.Crashes),
				fmt.Sprint(ch.LiveAtEnd), fmt.Sprint(l.Issued), countFrac(l.Failed, l.Issued), countFrac(l.Wrong(), l.Issued),
				fmt.Sprint(l.Dead), fmt.Sprint(l.Misrouted), fmt.Sprint(l.Skipped), fmt.Sprintf("%.2f", ch.Path.Mean), quiesce,
			}},
		})
	}
	v := table{
		title:  fmt.Sprintf("Invariant violations (%d samples, mean sample %v)", r.Samples, dur(r.SampleCost)),
		header: []string{"kind", "subject", "phase", "at", "failing for", "seed", "detail"},
	}
	for _, x := range r.Violations {
		v.rows = append(v.rows, []string{x.Kind, x.Subject, x.Phase, dur(x.At), dur(x.Since), fmt.Sprint(x.Seed), oneLine(x.Detail)})
	}
	return append(out, v)
}

func (r *Report) phase(name string) *PhaseResult {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

// oneLine keeps a cell on one line: joined errors carry newlines.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func okString(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
}

func countFrac(part, whole int) string {
	return fmt.Sprintf("%d (%.3f%%)", part, 100*fraction(part, whole))
}

// dur rounds d for display: microseconds below a millisecond, milliseconds
// below a minute, tenths of a second above.
func dur(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
