package kvsim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
)

// A short mixed run with the baseline: every number in the report must be
// consistent, nothing may fail, and no file may be left behind.
func TestRunReportsSaneNumbers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{Nodes: 3, Clients: 4, Op: OpMixed, Duration: time.Second, Keys: 200, ValueSize: 32, Baseline: true, Dir: dir}
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())

	if len(rep.Errors) != 0 {
		t.Errorf("errors: %+v", rep.Errors)
	}
	if rep.Interrupted {
		t.Error("report says the run was interrupted")
	}
	if rep.Elapsed < cfg.Duration {
		t.Errorf("clients ran %v, less than the %v asked for", rep.Elapsed, cfg.Duration)
	}
	if rep.Misses != 0 {
		t.Errorf("%d leader reads found no value after the preload", rep.Misses)
	}
	var ops []string
	var sum int64
	for _, s := range rep.Ops {
		ops = append(ops, s.Op)
		sum += s.Count
		checkStats(t, s)
	}
	if strings.Join(ops, ",") != "write,leader" {
		t.Errorf("operation rows %v, want write and leader", ops)
	}
	checkStats(t, rep.Total)
	if rep.Total.Count != sum {
		t.Errorf("total count %d, rows add up to %d", rep.Total.Count, sum)
	}
	if rep.Baseline == nil {
		t.Fatal("no baseline in the report")
	}
	checkStats(t, *rep.Baseline)
	if rep.Ratio() <= 0 {
		t.Errorf("ratio %v", rep.Ratio())
	}
	for _, want := range []string{"write", "leader", "pebble", "ratio store/pebble", "errors: none"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report text lacks %q", want)
		}
	}
	assertEmpty(t, dir)
}

// checkStats checks one row: operations happened, at a positive rate, and
// the percentiles are ordered.
func checkStats(t *testing.T, s OpStats) {
	t.Helper()
	if s.Count <= 0 || s.PerSecond <= 0 {
		t.Errorf("%s: %d ops, %v ops/s", s.Op, s.Count, s.PerSecond)
	}
	if !(0 < s.P50 && s.P50 <= s.P90 && s.P90 <= s.P99 && s.P99 <= s.P999 && s.P999 <= s.Max) {
		t.Errorf("%s: percentiles out of order: p50 %v p90 %v p99 %v p999 %v max %v", s.Op, s.P50, s.P90, s.P99, s.P999, s.Max)
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d entries left in %s, first %s", len(left), dir, left[0].Name())
	}
}

// The command line: several ranges over loopback TCP, eventual reads.
// Not parallel: it checks that the run stops every goroutine it started,
// which only holds while no other test runs.
func TestMainEventualOverTCP(t *testing.T) {
	before := len(goroutines())
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-nodes", "2", "-ranges", "3", "-clients", "4", "-op", "eventual", "-duration", "1s",
		"-keys", "100", "-tcp", "-quiet", "-dir", dir}
	if code := Main(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"2 nodes, 3 range(s) of 2 replicas, loopback TCP", "eventual", "reads that found no value: 0", "errors: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pebble") {
		t.Errorf("report has a baseline that was not asked for:\n%s", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("-quiet run wrote to stderr:\n%s", stderr.String())
	}
	assertEmpty(t, dir)
	await.Until(t, 10*time.Second, "goroutines of the run stop", func() error {
		if after := goroutines(); len(after) > before {
			return fmt.Errorf("%d goroutines, %d before the run:\n%s", len(after), before, strings.Join(after, "\n\n"))
		}
		return nil
	})
}

// goroutines returns the stacks of the live goroutines, leaving out the
// runtime's signal watcher: Main's signal.NotifyContext starts it once per
// process and it never ends.
func goroutines() []string {
	buf := make([]byte, 1<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "os/signal.loop") {
			out = append(out, g)
		}
	}
	return out
}

func TestMainUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-op", "nosuch"}, {"-nodes", "0"}, {"-duration", "0s"}, {"extra"}, {"-nodes", "3", "-replicas", "4"},
		{"-value-size", "2000000"}, {"-write-percent", "101", "-op", "mixed"}, {"-nosuchflag"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit status %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("%q: nothing on stderr", args)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "-baseline") {
		t.Errorf("-h: exit status %d, usage:\n%s", code, stderr.String())
	}
}
