// Command concord-node runs a Concord node: a member of a distributed,
// strongly consistent key-value store whose key ranges are Raft groups
// placed on a Chord ring.
//
// With no flags it starts a single local development node on
// 127.0.0.1:7946 with its data under ./concord-data and its HTTP API (with
// /metrics, /api/v1/health and /api/v1/ready) on 127.0.0.1:4000; --join
// makes it join an existing cluster instead. A restart on the same data directory comes
// back with the same identity and data. SIGTERM or SIGINT leaves the
// cluster gracefully (leaderships and the ring arc are handed over first);
// SIGKILL is a crash the rest of the cluster survives.
//
// Subcommands talk to a running node:
//
//	concord-node status [--addr 127.0.0.1:7946] [--json]
//	concord-node ring   [--addr ADDR] [--json]
//	concord-node ranges [--addr ADDR] [--json]
//	concord-node get    [--addr ADDR] [--json] [--consistency leader|strong|eventual] KEY
//	concord-node put    [--addr ADDR] [--json] [--ttl DURATION] KEY VALUE
//	concord-node delete [--addr ADDR] [--json] KEY
//
// Every subcommand takes --timeout (default 10s); flags may follow the
// arguments, and "--" ends the flags (for values starting with '-').
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/ring"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			if err := sub(args[1:], os.Stdout, os.Stderr); err != nil {
				fmt.Fprintf(os.Stderr, "concord-node %s: %v\n", args[0], err)
				os.Exit(1)
			}
			return
		}
	}
	if err := run(args, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "concord-node:", err)
		os.Exit(1)
	}
}

// options are the parsed command-line flags.
type options struct {
	name, bind, advertise, join, dataDir, logLevel, logFormat, httpAddr string
	replicas                                                            int
	stabilize, replaceAfter                                             time.Duration
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("concord-node", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.name, "name", "", "unique node name (default: the advertised address)")
	fs.StringVar(&o.bind, "bind", concord.DefaultBindAddr, "ip:port for all node-to-node traffic (TCP and UDP); port 0 picks one")
	fs.StringVar(&o.advertise, "advertise", "", "ip:port other nodes use to reach this one (default: the bound address)")
	fs.StringVar(&o.join, "join", "", "comma-separated seed addresses of a running cluster; empty creates a new cluster (or restarts one from --data-dir)")
	fs.StringVar(&o.dataDir, "data-dir", "concord-data", "directory holding this node's identity and data")
	fs.StringVar(&o.httpAddr, "http-addr", DefaultHTTPAddr, "ip:port of the HTTP API, /metrics and the health checks; empty turns HTTP off")
	fs.IntVar(&o.replicas, "replicas", 3, "replication factor of every range (fewer while the cluster is smaller)")
	fs.DurationVar(&o.replaceAfter, "replace-after", 30*time.Second, "how long a failed node may be away before its replicas are rebuilt elsewhere")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	fs.DurationVar(&o.stabilize, "stabilize-interval", ring.DefaultStabilizeInterval, "period of ring stabilization rounds")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return o, nil
}

func newLogger(o options, out io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(out, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(out, hopts)), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, got %q", o.logFormat)
	}
}

func run(args []string, logOut io.Writer) error {
	o, err := parseFlags(args, logOut)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger, err := newLogger(o, logOut)
	if err != nil {
		return err
	}
	var seeds []string
	for _, s := range strings.Split(o.join, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}

	if o.replicas < 1 {
		return fmt.Errorf("--replicas must be at least 1, got %d", o.replicas)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	jctx, cancel := context.WithTimeout(ctx, time.Minute)
	reg := concord.NewMetricsRegistry()
	node, err := concord.Open(jctx, concord.Config{
		Name:              o.name,
		BindAddr:          o.bind,
		AdvertiseAddr:     o.advertise,
		Seeds:             seeds,
		DataDir:           o.dataDir,
		Replicas:          o.replicas,
		ReplaceAfter:      o.replaceAfter,
		StabilizeInterval: o.stabilize,
		Logger:            logger,
		Registerer:        reg,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	r := node.Ring()
	logger.Info("node listening", "name", r.Name(), "id", r.Id(), "addr", r.Address(), "data_dir", o.dataDir)
	if o.httpAddr != "" {
		stopHTTP, err := serveHTTP(o.httpAddr, node, reg, logger)
		if err != nil {
			_ = node.Close()
			return err
		}
		defer stopHTTP()
	}
	watchRing(ctx, r, logger, o.stabilize)

	logger.Info("leaving cluster")
	if err := node.Close(); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}

// watchRing logs the node's range and successors whenever they change,
// until ctx ends.
func watchRing(ctx context.Context, r *ring.Node, logger *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastRange ring.Range
	var lastSuccs string
	for {
		rg, _ := r.Range()
		var names []string
		for _, s := range r.Successors() {
			names = append(names, s.Name)
		}
		if succs := strings.Join(names, ","); rg != lastRange || succs != lastSuccs {
			lastRange, lastSuccs = rg, succs
			logger.Info("ring changed", "range_start", rg.Start, "range_end", rg.End, "successors", succs)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
