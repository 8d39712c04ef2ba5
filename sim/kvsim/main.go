package kvsim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Main runs `sim kv` with the flags in args (the words after "kv") and
// returns the process exit status: 0 when the load ran and no operation
// failed, 1 when operations failed or none succeeded, 2 for a bad command
// line or a run that could not start. The report goes to stdout, progress
// and errors to stderr. An interrupt (SIGINT, SIGTERM) ends the load early;
// the report still prints and the data directory is still removed.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := rep.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if rep.ErrorTotal() > 0 || rep.Total.Count == 0 {
		return 1
	}
	return 0
}

// parseFlags turns the command line into a Config.
func parseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("sim kv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sim kv [flags]\n\nRuns clients against an in-process multi-raft cluster and reports throughput and latency.\n\nFlags:")
		fs.PrintDefaults()
	}
	var cfg Config
	var op string
	fs.IntVar(&cfg.Nodes, "nodes", 3, "number of nodes")
	fs.IntVar(&cfg.Replicas, "replicas", 0, "replicas per range (0: min(3, nodes))")
	fs.IntVar(&cfg.Ranges, "ranges", 1, "number of ranges, tiling the ring in equal arcs")
	fs.IntVar(&cfg.Clients, "clients", 64, "concurrent clients, one operation in flight each")
	fs.StringVar(&op, "op", string(OpWrite), "operation: write, strong, leader, eventual or mixed")
	fs.IntVar(&cfg.WritePercent, "write-percent", 50, "percentage of writes under -op mixed, the rest being leader reads (0 means 50)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long the load runs")
	fs.IntVar(&cfg.ValueSize, "value-size", 100, "bytes per written value")
	fs.IntVar(&cfg.Keys, "keys", 10000, "size of the key space")
	fs.BoolVar(&cfg.Baseline, "baseline", false, "first run a raw Pebble synced-batch loop with as many writers and print the ratio")
	fs.BoolVar(&cfg.TCP, "tcp", false, "connect the nodes over loopback TCP instead of the in-memory network")
	fs.StringVar(&cfg.Dir, "dir", "", "parent of the temporary data directory (default: the system temp dir)")
	fs.DurationVar(&cfg.OpTimeout, "timeout", 5*time.Second, "timeout of one operation")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the clients' key choices")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sim kv: unexpected arguments %q\n", fs.Args())
		return cfg, errors.New("unexpected arguments")
	}
	// Config treats zero as "the default"; on the command line a zero is
	// a mistake, not a request for the default.
	for _, f := range []struct {
		name string
		v    int64
	}{{"nodes", int64(cfg.Nodes)}, {"ranges", int64(cfg.Ranges)}, {"clients", int64(cfg.Clients)},
		{"keys", int64(cfg.Keys)}, {"duration", int64(cfg.Duration)}, {"timeout", int64(cfg.OpTimeout)}} {
		if f.v <= 0 {
			fmt.Fprintf(stderr, "sim kv: -%s must be positive\n", f.name)
			return cfg, fmt.Errorf("%w: -%s must be positive", ErrInvalidConfig, f.name)
		}
	}
	cfg.Op = Op(op)
	if !*quiet {
		cfg.Progress = stderr
	}
	if _, err := cfg.withDefaults(); err != nil {
		fmt.Fprintf(stderr, "sim kv: %v\n", err)
		return cfg, err
	}
	return cfg, nil
}
