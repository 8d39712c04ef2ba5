// Command concord-node runs a Concord node.
//
// For now it runs the ring layer: a Chord ring node with gossip failure
// detection on one address. With no flags it starts a single local
// development node on 127.0.0.1:7946 that creates a ring; --join makes it
// join an existing ring instead. SIGTERM or SIGINT leaves the ring
// gracefully (the arc is handed over first); SIGKILL is a crash the rest of
// the ring repairs.
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
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "concord-node:", err)
		os.Exit(1)
	}
}

// options are the parsed command-line flags.
type options struct {
	name, bind, advertise, join, logLevel, logFormat string
	stabilize                                        time.Duration
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("concord-node", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.name, "name", "", "unique node name (default: the advertised address)")
	fs.StringVar(&o.bind, "bind", "127.0.0.1:7946", "ip:port for ring RPCs and gossip (TCP and UDP); port 0 picks one")
	fs.StringVar(&o.advertise, "advertise", "", "ip:port other nodes use to reach this one (default: the bound address)")
	fs.StringVar(&o.join, "join", "", "comma-separated seed addresses of a running ring; empty creates a new ring")
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

	changes := make(chan ring.Range, 16)
	node, err := concord.StartRingNode(concord.RingNodeConfig{
		Ring: ring.Config{
			Name:              o.name,
			BindAddr:          o.bind,
			AdvAddr:           o.advertise,
			StabilizeInterval: o.stabilize,
			Logger:            logger,
			OnRangeChange: func(r ring.Range) {
				select {
				case changes <- r:
				default: // the watcher also polls; a dropped wake-up costs nothing
				}
			},
		},
		Seeds: seeds,
	})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	r := node.Ring()
	logger.Info("node listening", "name", r.Name(), "id", r.Id(), "addr", r.Address())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(seeds) == 0 {
		err = node.Create()
	} else {
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = node.Join(jctx, seeds...)
		cancel()
	}
	if err != nil {
		node.Stop()
		return err
	}
	watchRing(ctx, r, changes, logger, o.stabilize)

	logger.Info("leaving ring")
	lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Leave(lctx); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}

// watchRing logs the node's range and successors whenever they change,
// until ctx ends.
func watchRing(ctx context.Context, r *ring.Node, changes <-chan ring.Range, logger *slog.Logger, every time.Duration) {
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
		case <-changes:
		case <-t.C:
		}
	}
}
