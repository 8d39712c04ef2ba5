package storage

import (
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
}

// NewBatch returns an empty indexed batch.
func (e *Engine) NewBatch() *Batch {
	return &Batch{e: e, pb: e.db.NewIndexedBatch()}
}

// Get returns a copy of the value of k as the batch would leave it.
func (b *Batch) Get(k []byte) ([]byte, bool, error) {
	if b.done {
		return nil, false, ErrBatchDone
	}
	return get(b.pb, k)
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

// Close discards an uncommitted batch; after Commit it does nothing.
func (b *Batch) Close() {
	if b.done {
		return
	}
	b.done = true
	b.logs = nil
	// Pebble's Close only returns an error for a batch already closed, which
	// done rules out.
	_ = b.pb.Close()
}
