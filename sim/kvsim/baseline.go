package kvsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// runBaseline measures the disk's synced-write capacity the way the
// Store's write path uses it: Config.Clients writers, each committing
// one-key batches with pebble.Sync to a plain Pebble database in dir, for
// Config.Duration. Pebble groups concurrent synced commits into one fsync,
// so this is the ceiling a Store on the same disk could approach.
func runBaseline(ctx context.Context, cfg Config, dir string) (*OpStats, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		return nil, fmt.Errorf("kvsim: baseline: %w", err)
	}
	value := make([]byte, cfg.ValueSize)
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var cnt counters
	stop := startProgress(cfg.Progress, "pebble baseline", &cnt)
	hists := make([]histogram, cfg.Clients)
	errs := make([]error, cfg.Clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
			for ctx.Err() == nil {
				key := fmt.Appendf(nil, "key-%08d", rng.IntN(cfg.Keys))
				t0 := time.Now()
				if err := commitOne(db, key, value); err != nil {
					errs[i] = err
					cnt.errs.Add(1)
					return
				}
				hists[i].record(time.Since(t0))
				cnt.ops.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("kvsim: baseline: close: %w", err)
	}
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("kvsim: baseline: %w", err)
		}
	}
	var all histogram
	for i := range hists {
		all.merge(&hists[i])
	}
	st := statsOf("pebble", &all, elapsed)
	return &st, nil
}

// commitOne commits one key in its own synced batch.
func commitOne(db *pebble.DB, key, value []byte) error {
	b := db.NewBatch()
	defer b.Close()
	if err := b.Set(key, value, nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// quietPebble drops Pebble's informational chatter (WAL discovery and the
// like), which would interleave with the progress lines, and keeps its
// errors.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)              {}
func (quietPebble) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }
func (quietPebble) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }
