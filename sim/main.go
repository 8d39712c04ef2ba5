// Command sim runs Concord's simulations and load tools:
//
//	go run ./sim ring -nodes N -seed S -churn R -duration D [-lookups L] [-interval I] [-report file.md]
//
// builds a ring of N nodes in one process on the in-memory network (real
// gRPC, real gossip), measures lookup path lengths in steady state, applies
// Poisson churn while looking keys up, waits for the ring to become ideal
// again and checks the ring invariants throughout. It prints a report on
// stdout, progress on stderr, and exits with status 1 if any invariant was
// violated or a phase did not finish. See docs/sim.md.
//
//	go run ./sim kv -nodes 3 -clients 64 -op write|strong|leader|eventual|mixed -duration 10s [-baseline]
//
// drives an in-process cluster of multi-raft Stores (engines on disk) with
// concurrent clients and reports throughput and latency percentiles;
// -baseline first runs a raw Pebble synced-batch loop for comparison. See
// docs/benchmarks.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/concord-kv/concord/sim/kvsim"
	"github.com/concord-kv/concord/sim/ringsim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "kv" {
		return kvsim.Main(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "ring" {
		fmt.Fprintln(stderr, "usage: sim ring|kv [flags]   (sim ring -h, sim kv -h list the flags)")
		return 2
	}
	cfg, opts, err := parseRing(args[1:], stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	debug.SetGCPercent(opts.gcPercent)
	debug.SetMemoryLimit(opts.memLimit)
	stopProfiles, err := startProfiles(opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// An interrupted run still stops its nodes and prints what it found.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := ringsim.Run(ctx, cfg)
	if perr := stopProfiles(); perr != nil {
		fmt.Fprintln(stderr, perr)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := rep.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if opts.report != "" {
		if err := writeMarkdown(opts.report, rep); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	if !rep.Passed() {
		return 1
	}
	return 0
}

// options are the flags that are not part of ringsim.Config.
type options struct {
	report     string // markdown report file
	cpuProfile string // CPU profile file
	mutexProf  string // mutex contention profile file
	gcPercent  int    // GOGC for the run
	memLimit   int64  // soft memory limit in bytes
	pprofAddr  string // address for net/http/pprof
}

// parseRing parses the ring subcommand's flags.
func parseRing(args []string, stderr io.Writer) (ringsim.Config, options, error) {
	fs := flag.NewFlagSet("sim ring", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg ringsim.Config
	fs.IntVar(&cfg.Nodes, "nodes", 16, "number of nodes to build")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed for every random choice")
	fs.Float64Var(&cfg.Churn, "churn", 0, "membership events per stabilization interval during churn (0: no churn phase)")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of the churn phase")
	fs.IntVar(&cfg.Lookups, "lookups", 0, "steady-state lookups measured for path length (0: 2000)")
	fs.Float64Var(&cfg.LookupRate, "lookup-rate", 0, "lookups per second during churn (0: 50)")
	fs.DurationVar(&cfg.Interval, "interval", 0, "stabilization interval (0: scaled to -nodes)")
	fs.DurationVar(&cfg.RPCTimeout, "rpc-timeout", 0, "ring RPC timeout (0: max(2*interval, 500ms) up to 64 nodes, 2s up to 512, 5s above)")
	fs.DurationVar(&cfg.Gossip.ProbeInterval, "gossip-probe", 0, "memberlist probe interval (0: scaled to -nodes)")
	fs.DurationVar(&cfg.Gossip.ProbeTimeout, "gossip-probe-timeout", 0, "memberlist probe timeout (0: scaled to -nodes)")
	fs.DurationVar(&cfg.Gossip.GossipInterval, "gossip-interval", 0, "memberlist gossip interval (0: scaled to -nodes)")
	fs.IntVar(&cfg.SuccessorCount, "successors", 0, "successor list length r (0: 8)")
	fs.DurationVar(&cfg.Grace, "grace", 0, "how long a liveness invariant may fail before it is a violation (0: derived)")
	fs.IntVar(&cfg.Batch, "batch", 0, "largest wave of concurrent joins during build-up (0: scaled to -nodes)")
	fs.DurationVar(&cfg.CalmLatency, "calm-latency", 0, "pace the build and the ideal-ring check: wait until the p99 scheduler latency is at most this (0: gossip probe timeout/10; negative: never wait)")
	fs.IntVar(&cfg.MinLive, "min-live", 0, "fewest live nodes churn leaves (0: min(4, nodes))")
	fs.IntVar(&cfg.IdealKeys, "ideal-keys", 0, "keys every node looks up to confirm the ideal ring (0: 8)")
	fs.DurationVar(&cfg.BuildTimeout, "build-timeout", 0, "budget of the build-up phase (0: derived)")
	fs.DurationVar(&cfg.SettleTimeout, "settle-timeout", 0, "budget of the settle phase (0: derived)")
	fs.DurationVar(&cfg.QuiesceTimeout, "quiesce-timeout", 0, "budget of the quiesce phase (0: derived)")
	var opts options
	fs.StringVar(&opts.report, "report", "", "also write the report as markdown to this file")
	fs.StringVar(&opts.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&opts.mutexProf, "mutexprofile", "", "write a mutex contention profile of the run to this file")
	fs.StringVar(&opts.pprofAddr, "pprof", "", "serve net/http/pprof on this address (for example localhost:6060) during the run")
	fs.IntVar(&opts.gcPercent, "gogc", 400, "garbage collector target percentage (debug.SetGCPercent); gossip allocates heavily")
	fs.Int64Var(&opts.memLimit, "memlimit", 12<<30, "soft memory limit in bytes (debug.SetMemoryLimit): the GC works harder near it instead of letting -gogc grow the heap")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return cfg, opts, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sim ring: unexpected arguments %q\n", fs.Args())
		return cfg, opts, errors.New("unexpected arguments")
	}
	if cfg.Churn == 0 {
		cfg.Duration = 0
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	return cfg, opts, nil
}

func writeMarkdown(path string, rep *ringsim.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteMarkdown(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
