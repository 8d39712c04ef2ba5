package storage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Default sizes used when Options leaves them zero.
const (
	DefaultCacheSize      = 64 << 20
	DefaultEntryCacheSize = 16 << 20
)

// Subdirectories of the engine directory. Pebble owns pebbleDir alone;
// incoming snapshots are staged in snapshotDir, which is wiped on Open
// because a staged snapshot that was not ingested before a crash is garbage.
const (
	pebbleDir   = "pebble"
	snapshotDir = "snapshots"
)

// Options configures Open.
type Options struct {
	// FS is the filesystem; nil means the OS filesystem. Tests pass a
	// crashable in-memory filesystem (vfs.NewCrashableMem) to simulate
	// crashes that lose unsynced writes.
	FS vfs.FS
	// CacheSize is Pebble's block cache in bytes; 0 means DefaultCacheSize.
	CacheSize int64
	// EntryCacheSize is the node-wide budget of the Raft entry cache shared
	// by every range's log; 0 means DefaultEntryCacheSize, negative
	// disables the cache.
	EntryCacheSize int64
	// Logger receives Pebble's logging (informational messages at Debug);
	// nil discards it.
	Logger *slog.Logger
}

// Engine is a node's storage: one Pebble database holding every range's
// Raft log, Raft state, applied state and user data. It is safe for
// concurrent use. All users (batches, views, snapshots, logs) must be done
// before Close.
type Engine struct {
	db *pebble.DB
	// popts derives the writer options of snapshot sstables.
	popts  *pebble.Options
	fs     vfs.FS
	dir    string
	logger *slog.Logger
	cache  *entryCache

	// closed makes use after Close an error instead of a Pebble panic in
	// the common, non-racing case.
	closed atomic.Bool
	// snapSeq names staged snapshot directories uniquely.
	snapSeq atomic.Uint64

	mu sync.Mutex
	// logs holds the open RaftLog of each range, so that writes that
	// replace a range's log wholesale (initial state, snapshots, destroy)
	// can refresh the in-memory view of whoever holds it.
	logs map[uint64]*RaftLog
}

// Open opens (creating if needed) the engine stored in dir.
func Open(dir string, opts Options) (*Engine, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cacheSize := opts.CacheSize
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	entryBudget := opts.EntryCacheSize
	switch {
	case entryBudget == 0:
		entryBudget = DefaultEntryCacheSize
	case entryBudget < 0:
		entryBudget = 0
	}
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref() // the DB holds its own reference
	popts := &pebble.Options{
		FS:                 fs,
		Cache:              cache,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{l: logger},
	}
	// Bloom filters on every level: a write reads the key's current record
	// first, and for a new key that read misses; without filters each miss
	// searches every overlapping sstable.
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	// Pebble creates dir and its own subdirectory, syncing every parent it
	// creates so that a new engine survives a crash; creating dir here first
	// would leave dir's own directory entry unsynced.
	db, err := pebble.Open(fs.PathJoin(dir, pebbleDir), popts)
	if err != nil {
		return nil, fmt.Errorf("storage: open pebble in %s: %w", dir, err)
	}
	if err := fs.RemoveAll(fs.PathJoin(dir, snapshotDir)); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("storage: clear staged snapshots: %w", err)
	}
	// Pebble applies defaults to its own copy of the options; snapshot
	// sstables are written with options derived from a defaulted copy too,
	// so that they match what Pebble would write itself.
	writerOpts := popts.Clone()
	writerOpts.EnsureDefaults()
	return &Engine{
		db:     db,
		popts:  writerOpts,
		fs:     fs,
		dir:    dir,
		logger: logger,
		cache:  newEntryCache(entryBudget),
		logs:   make(map[uint64]*RaftLog),
	}, nil
}

// Close closes the engine. Open logs, batches, views and snapshots must not
// be used afterwards.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return ErrClosed
	}
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("storage: close pebble: %w", err)
	}
	return nil
}

func (e *Engine) checkOpen() error {
	if e.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Get returns a copy of the committed value of k; ok is false if k is
// absent.
func (e *Engine) Get(k []byte) (v []byte, ok bool, err error) {
	if err := e.checkOpen(); err != nil {
		return nil, false, err
	}
	return get(e.db, k)
}

// Iterate calls fn for each committed key in [lo, hi) in ascending order
// until fn returns false. A nil bound is unbounded. k and v are valid only
// during the call to fn; copy them to keep them.
func (e *Engine) Iterate(lo, hi []byte, fn func(k, v []byte) bool) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	return iterate(e.db, lo, hi, fn)
}

// get reads k from r and returns a copy of its value.
func get(r pebble.Reader, k []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: get %q: %w", k, err)
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	if err := closer.Close(); err != nil {
		return nil, false, fmt.Errorf("storage: get %q: %w", k, err)
	}
	return out, true, nil
}

// iterate walks [lo, hi) of r in key order. Keys and values passed to fn
// alias the iterator's buffers.
func iterate(r pebble.Reader, lo, hi []byte, fn func(k, v []byte) bool) (err error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("storage: iterate [%q, %q): %w", lo, hi, err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("storage: iterate [%q, %q): %w", lo, hi, cerr)
		}
	}()
	for valid := it.First(); valid; valid = it.Next() {
		v, verr := it.ValueAndErr()
		if verr != nil {
			return fmt.Errorf("storage: iterate [%q, %q): %w", lo, hi, verr)
		}
		if !fn(it.Key(), v) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("storage: iterate [%q, %q): %w", lo, hi, err)
	}
	return nil
}
