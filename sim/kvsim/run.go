package kvsim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// startupTimeout bounds electing the leaders and preloading the keys.
const startupTimeout = time.Minute

// Run executes one load run: the baseline if asked for, then the cluster
// is built, preloaded when the operation reads, driven for cfg.Duration
// and stopped. Its data directory is removed before Run returns. When ctx
// ends early the clients stop and the report covers what ran.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.Dir, "concord-kvsim-")
	if err != nil {
		return nil, fmt.Errorf("kvsim: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("kvsim: remove data: %w", rerr))
		}
	}()

	var baseline *OpStats
	if cfg.Baseline {
		logf(cfg.Progress, "baseline: raw Pebble, %d writers, %v", cfg.Clients, cfg.Duration)
		baseline, err = runBaseline(ctx, cfg, filepath.Join(dir, "pebble"))
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return &Report{Config: cfg, Baseline: baseline, Interrupted: true}, nil
		}
	}

	start := time.Now()
	c, err := startCluster(cfg, filepath.Join(dir, "cluster"))
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := c.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	setupCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	if err := c.waitLeaders(setupCtx); err != nil {
		return nil, err
	}
	logf(cfg.Progress, "cluster: %d nodes, %d range(s), leaders elected in %.1fs", cfg.Nodes, cfg.Ranges, time.Since(start).Seconds())
	l := newLoad(cfg, c)
	if cfg.readsPreloaded() {
		start := time.Now()
		if err := l.preload(setupCtx); err != nil {
			return nil, err
		}
		logf(cfg.Progress, "preload: %d keys written and applied everywhere in %.1fs", cfg.Keys, time.Since(start).Seconds())
	}

	stats, elapsed := l.run(ctx)
	rep = newReport(cfg, stats, elapsed)
	rep.Baseline = baseline
	rep.Interrupted = ctx.Err() != nil
	return rep, nil
}
