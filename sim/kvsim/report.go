package kvsim

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	// Config is the configuration that ran, defaults filled in.
	Config Config
	// Elapsed is how long the clients ran.
	Elapsed time.Duration
	// Ops has one entry per kind of operation that succeeded at least
	// once, in the order write, strong, leader, eventual.
	Ops []OpStats
	// Total covers every successful operation.
	Total OpStats
	// Errors counts failed operations by kind, most frequent first.
	Errors []ErrorCount
	// Misses counts reads that found no value (not errors: an eventual
	// read may trail the writes).
	Misses int64
	// Baseline is the raw Pebble synced-batch loop, when it ran.
	Baseline *OpStats
	// Interrupted is set when the run was cut short by its context.
	Interrupted bool
}

// OpStats is the throughput and latency of one kind of operation.
type OpStats struct {
	// Op names the operation: write, strong, leader, eventual, all, or
	// pebble for the baseline.
	Op string
	// Count is the number of successful operations.
	Count int64
	// PerSecond is Count over the run's elapsed time.
	PerSecond float64
	// Latency percentiles of successful operations (within about 3%) and
	// the largest latency seen.
	P50, P90, P99, P999, Max time.Duration
}

// ErrorCount is how many operations failed with one kind of error.
type ErrorCount struct {
	// Kind is "not-leader", "timeout", "unavailable", a key-value error
	// code such as "value-too-large", or "other".
	Kind  string
	Count int64
	// Example is the message of the first such error.
	Example string
}

// ErrorTotal is the number of failed operations.
func (r *Report) ErrorTotal() int64 {
	var n int64
	for _, e := range r.Errors {
		n += e.Count
	}
	return n
}

// Ratio is the Store's throughput as a fraction of the baseline's, 0
// without a baseline.
func (r *Report) Ratio() float64 {
	if r.Baseline == nil || r.Baseline.PerSecond == 0 {
		return 0
	}
	return r.Total.PerSecond / r.Baseline.PerSecond
}

func statsOf(op string, h *histogram, elapsed time.Duration) OpStats {
	st := OpStats{Op: op, Count: int64(h.n), P50: h.quantile(0.50), P90: h.quantile(0.90),
		P99: h.quantile(0.99), P999: h.quantile(0.999), Max: h.max}
	if elapsed > 0 {
		st.PerSecond = float64(h.n) / elapsed.Seconds()
	}
	return st
}

// newReport merges the clients' measurements.
func newReport(cfg Config, stats []*clientStats, elapsed time.Duration) *Report {
	r := &Report{Config: cfg, Elapsed: elapsed}
	var total histogram
	errs := make(map[string]*ErrorCount)
	for _, op := range []Op{OpWrite, OpStrong, OpLeader, OpEventual} {
		var h histogram
		for _, s := range stats {
			if sh := s.latency[op]; sh != nil {
				h.merge(sh)
			}
		}
		if h.n > 0 {
			r.Ops = append(r.Ops, statsOf(string(op), &h, elapsed))
			total.merge(&h)
		}
	}
	for _, s := range stats {
		r.Misses += s.misses
		for kind, e := range s.errors {
			if errs[kind] == nil {
				errs[kind] = &ErrorCount{Kind: kind, Example: e.Example}
			}
			errs[kind].Count += e.Count
		}
	}
	r.Total = statsOf("all", &total, elapsed)
	for _, e := range errs {
		r.Errors = append(r.Errors, *e)
	}
	slices.SortFunc(r.Errors, func(a, b ErrorCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Kind, b.Kind))
	})
	return r
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	c := r.Config
	network := "in-memory network"
	if c.TCP {
		network = "loopback TCP"
	}
	op := string(c.Op)
	if c.Op == OpMixed {
		op = fmt.Sprintf("mixed (%d%% writes, the rest leader reads)", c.WritePercent)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kv load: %d nodes, %d range(s) of %d replicas, %s, engines on disk\n", c.Nodes, c.Ranges, c.Replicas, network)
	fmt.Fprintf(&b, "op %s, %d clients, %d keys, %d-byte values, ran %.1fs", op, c.Clients, c.Keys, c.ValueSize, r.Elapsed.Seconds())
	if r.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tops\tops/s\tp50\tp90\tp99\tp999\tmax\t")
	rows := r.Ops
	if len(r.Ops) != 1 {
		rows = append(slices.Clone(r.Ops), r.Total)
	}
	if r.Baseline != nil {
		rows = append(rows, *r.Baseline)
	}
	for _, s := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", s.Op, s.Count, s.PerSecond,
			fmtDur(s.P50), fmtDur(s.P90), fmtDur(s.P99), fmtDur(s.P999), fmtDur(s.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Baseline != nil {
		fmt.Fprintf(&b, "\npebble: raw Pebble, %d writers committing one-key synced batches, run first\n", c.Clients)
		fmt.Fprintf(&b, "ratio store/pebble: %.2f\n", r.Ratio())
	}
	if c.readsPreloaded() {
		fmt.Fprintf(&b, "\nreads that found no value: %d\n", r.Misses)
	}
	if len(r.Errors) == 0 {
		b.WriteString("\nerrors: none\n")
	} else {
		fmt.Fprintf(&b, "\nerrors: %d\n", r.ErrorTotal())
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "  %-16s %8d  e.g. %s\n", e.Kind, e.Count, e.Example)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fmtDur prints a latency in the unit that suits it.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
