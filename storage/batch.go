package storage

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Batch is an atomic group of writes. It is indexed: Get and Iterate see
// the batch's own writes layered over the engine's committed state. A batch
// is single-use: Commit or Close it exactly once (Close after Commit is a
// harmless no-op, so `defer b.Close()` is fine). A Batch is not safe for
// concurrent use.
//
// One batch may carry the Ready output of many ranges (group commit): one
// synced commit then makes all of them durable at the cost of one sync.
type Batch struct {
	e     *Engine
	pb    *pebble.Batch
	hooks []func()
	// logs projects, per RaftLog staged in this batch, the log bounds as
	// they will be once the batch commits, so that several operations on
	// one log in one batch build on each other.
	logs map[*RaftLog]*logBounds
	done bool
	// pointIter serves Get. Reusing one iterator for every lookup of the
	// batch, refreshed only when the batch was written to since, is much
	// cheaper than a Pebble Get, which assembles an iterator over every
	// level of the LSM each time. pointAt is writes at its last refresh.
	pointIter *pebble.Iterator
	pointAt   int
	writes    int
	// syncPending: CommitNoSyncWait succeeded and SyncWait has not been
	// called yet; the Pebble batch must stay open until it is.
	syncPending bool
}

// NewBatch returns an empty indexed batch.
func (e *Engine) NewBatch() *Batch {
	return &Batch{e: e, pb: e.db.NewIndexedBatch()}
}

// NewWriteBatch returns an empty batch that only writes: Get and Iterate
// fail on it, and what it stages is cheaper than in an indexed batch,
// which keeps an index of its keys for reads. Raft appends need no reads.
func (e *Engine) NewWriteBatch() *Batch {
	return &Batch{e: e, pb: e.db.NewBatch()}
}

// Get returns a copy of the value of k as the batch would leave it.
func (b *Batch) Get(k []byte) ([]byte, bool, error) {
	if b.done {
		return nil, false, ErrBatchDone
	}
	it := b.pointIter
	switch {
	case it == nil:
		var err error
		if it, err = b.pb.NewIter(pointIterOptions()); err != nil {
			return nil, false, fmt.Errorf("storage: get %q: %w", k, err)
		}
		b.pointIter, b.pointAt = it, b.writes
	case b.pointAt != b.writes:
		it.SetOptions(pointIterOptions())
		b.pointAt = b.writes
	}
	if !it.SeekPrefixGE(k) || !bytes.Equal(it.Key(), k) {
		if err := it.Error(); err != nil {
			return nil, false, fmt.Errorf("storage: get %q: %w", k, err)
		}
		return nil, false, nil
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, false, fmt.Errorf("storage: get %q: %w", k, err)
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	return out, true, nil
}

// pointIterOptions are Get's iterator options. Pebble skips the bloom
// filters of the last level by default, as they are large; but a write
// reads its key first, a new key misses everywhere, and the last level
// holds most of the data, so without them every such miss loads a data
// block there.
func pointIterOptions() *pebble.IterOptions {
	return &pebble.IterOptions{UseL6Filters: true}
}

// closePointIter releases Get's iterator; the batch may be committed or
// closed only without it.
func (b *Batch) closePointIter() {
	if b.pointIter != nil {
		// An iterator's Close reports the first error it met, which Get
		// already returned to its caller.
		_ = b.pointIter.Close()
		b.pointIter = nil
	}
}

// Iterate calls fn for each key in [lo, hi), as the batch would leave them,
// in ascending order until fn returns false. k and v are valid only during
// the call to fn. Writes made to the batch during the iteration are not
// seen by it.
func (b *Batch) Iterate(lo, hi []byte, fn func(k, v []byte) bool) error {
	if b.done {
		return ErrBatchDone
	}
	return iterate(b.pb, lo, hi, fn)
}

// Set stages k = v. The batch copies k and v.
func (b *Batch) Set(k, v []byte) error {
	if b.done {
		return ErrBatchDone
	}
	b.writes++
	if err := b.pb.Set(k, v, nil); err != nil {
		return fmt.Errorf("storage: batch set %q: %w", k, err)
	}
	return nil
}

// Delete stages the removal of k.
func (b *Batch) Delete(k []byte) error {
	if b.done {
		return ErrBatchDone
	}
	b.writes++
	if err := b.pb.Delete(k, nil); err != nil {
		return fmt.Errorf("storage: batch delete %q: %w", k, err)
	}
	return nil
}

// DeleteRange stages the removal of every key in [lo, hi).
func (b *Batch) DeleteRange(lo, hi []byte) error {
	if b.done {
		return ErrBatchDone
	}
	b.writes++
	if err := b.pb.DeleteRange(lo, hi, nil); err != nil {
		return fmt.Errorf("storage: batch delete range [%q, %q): %w", lo, hi, err)
	}
	return nil
}

// Empty reports whether the batch stages no write.
func (b *Batch) Empty() bool {
	return b.done || b.pb.Empty()
}

// OnCommit registers fn to run after a successful Commit, on the
// committing goroutine, before Commit returns. Hooks run in registration
// order; they must not use the batch.
func (b *Batch) OnCommit(fn func()) {
	b.hooks = append(b.hooks, fn)
}

// Commit applies the batch atomically and then runs its hooks. With sync
// the writes are durable when Commit returns; without, a crash may lose
// them, but never part of them. The batch is finished afterwards, whether
// or not Commit succeeded; on failure no hook runs.
func (b *Batch) Commit(sync bool) error {
	if b.done {
		return ErrBatchDone
	}
	if err := b.e.checkOpen(); err != nil {
		b.Close()
		return err
	}
	b.closePointIter()
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	err := b.pb.Commit(opts)
	b.Close()
	if err != nil {
		return fmt.Errorf("storage: commit batch: %w", err)
	}
	for _, fn := range b.hooks {
		fn()
	}
	b.hooks = nil
	return nil
}

// CommitNoSyncWait applies the batch as Commit(true) does, but returns as
// soon as its writes are visible to readers, without waiting for them to
// be durable; SyncWait then waits for that. Hooks run before it returns, so
// they must not assume durability. Several batches can be waiting for one
// sync this way: the write-ahead log is written in commit order and a sync
// makes durable everything written before it, so batches become durable in
// the order they were committed. After a nil error the caller must call
// SyncWait exactly once; after an error the batch is finished and no hook
// runs.
func (b *Batch) CommitNoSyncWait() error {
	if b.done {
		return ErrBatchDone
	}
	if err := b.e.checkOpen(); err != nil {
		b.Close()
		return err
	}
	b.closePointIter()
	if err := b.e.db.ApplyNoSyncWait(b.pb, pebble.Sync); err != nil {
		b.Close()
		return fmt.Errorf("storage: commit batch: %w", err)
	}
	b.done, b.logs, b.syncPending = true, nil, true
	for _, fn := range b.hooks {
		fn()
	}
	b.hooks = nil
	return nil
}

// SyncWait waits until the writes of a batch committed by CommitNoSyncWait
// are durable, and releases the batch. It returns ErrBatchDone when there
// is no such wait owed.
func (b *Batch) SyncWait() error {
	if !b.syncPending {
		return ErrBatchDone
	}
	b.syncPending = false
	err := b.pb.SyncWait()
	// Pebble's Close only returns an error for a batch already closed,
	// which syncPending rules out.
	_ = b.pb.Close()
	if err != nil {
		return fmt.Errorf("storage: sync batch: %w", err)
	}
	return nil
}

// Close discards an uncommitted batch; after Commit or CommitNoSyncWait it
// does nothing (SyncWait releases the latter).
func (b *Batch) Close() {
	if b.done {
		return
	}
	b.done = true
	b.logs = nil
	b.closePointIter()
	// Pebble's Close only returns an error for a batch already closed, which
	// done rules out.
	_ = b.pb.Close()
}

// ReleaseReads ends the batch's reads: it releases the iterator that Get
// keeps, which pins the engine's current files. Get still works afterwards
// (it opens a new one). Call it on a batch that waits long before its
// commit.
func (b *Batch) ReleaseReads() { b.closePointIter() }
