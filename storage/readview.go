package storage

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// ReadView is a consistent, read-only view of the engine at the moment it
// was created (a Pebble snapshot): later commits are invisible to it. It is
// safe for concurrent use. Close it promptly: an open view pins old data.
type ReadView struct {
	snap *pebble.Snapshot
}

// NewReadView returns a view of the engine's current committed state.
func (e *Engine) NewReadView() *ReadView {
	return &ReadView{snap: e.db.NewSnapshot()}
}

// Get returns a copy of the value of k in the view; ok is false if absent.
func (v *ReadView) Get(k []byte) ([]byte, bool, error) {
	return get(v.snap, k)
}

// Iterate calls fn for each key of the view in [lo, hi) in ascending order
// until fn returns false. k and v are valid only during the call to fn.
func (v *ReadView) Iterate(lo, hi []byte, fn func(k, v []byte) bool) error {
	return iterate(v.snap, lo, hi, fn)
}

// Close releases the view; later calls do nothing. The view must not be
// read after Close.
func (v *ReadView) Close() error {
	if v.snap == nil {
		return nil
	}
	snap := v.snap
	v.snap = nil
	if err := snap.Close(); err != nil {
		return fmt.Errorf("storage: close read view: %w", err)
	}
	return nil
}
