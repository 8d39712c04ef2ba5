package ringsim

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// small reports whether the tests should use their reduced sizes.
func small() bool { return testing.Short() || raceEnabled }

// runSim runs cfg and fails the test, with the report, if the run did not
// pass. It also checks that every goroutine the run started has ended.
func runSim(t *testing.T, cfg Config) *Report {
	t.Helper()
	before := runtime.NumGoroutine()
	var progress bytes.Buffer
	cfg.Progress = &progress
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() {
		t.Errorf("seed %d failed:\n%s\nprogress:\n%s", cfg.Seed, out.String(), progress.String())
	} else {
		t.Logf("seed %d:\n%s", cfg.Seed, out.String())
	}
	waitGoroutines(t, before)
	return rep
}

// waitGoroutines waits until no more goroutines run than before (memberlist
// and gRPC let some finish shortly after shutdown), failing with a dump if
// that does not happen within a deadline.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines still running after the run, %d before:\n%s", n, before, buf)
		}
		// The runtime offers no notification for goroutine exits: poll.
		<-tick.C
	}
}

// TestChurnCampaign runs brief churn on small rings over several seeds and
// requires zero invariant violations and a return to the ideal ring.
func TestChurnCampaign(t *testing.T) {
	seeds := []int64{1, 2, 3}
	nodes, duration := 12, 5*time.Second
	if small() {
		seeds, nodes, duration = []int64{1, 2}, 8, 3*time.Second
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rep := runSim(t, Config{
				Nodes:    nodes,
				Seed:     seed,
				Churn:    0.15,
				Duration: duration,
				Lookups:  300,
			})
			if rep.Churn == nil {
				t.Fatal("no churn phase")
			}
			ch := rep.Churn
			if ch.Events.Joins+ch.Events.Crashes == 0 {
				t.Errorf("churn produced no event in %v", ch.Duration)
			}
			if ch.Lookups.Issued == 0 {
				t.Error("no lookup was issued during churn")
			}
		})
	}
}

// TestSteadyStatePathLength checks the mean lookup path length of a quiet
// 64-node ring (16 under -short or -race, whose instrumentation slows 64
// nodes' gossip past their failure-detection timeouts) against the Chord
// paper's ½·log2 N.
func TestSteadyStatePathLength(t *testing.T) {
	nodes := 64
	if small() {
		nodes = 16
	}
	rep := runSim(t, Config{Nodes: nodes, Seed: 42, Lookups: 1000})
	if rep.Steady == nil {
		t.Fatal("no steady-state measurement")
	}
	p := rep.Steady.Path
	want := 0.5 * math.Log2(float64(nodes))
	if math.Abs(p.Mean-want) > 1 {
		t.Errorf("mean path length %.2f hops, want %.2f ± 1", p.Mean, want)
	}
	if p.Count != rep.Steady.Lookups.Issued {
		t.Errorf("%d of %d steady-state lookups did not succeed", rep.Steady.Lookups.Issued-p.Count, rep.Steady.Lookups.Issued)
	}
}
