package storage

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/concord-kv/concord/storage/storagepb"
)

// RangeSnapshot is a consistent image of one range for sending to another
// node: its applied state and user data, both read from one Pebble
// snapshot, so later writes to the range do not affect it. Close it when
// the transfer ends: it pins old data.
type RangeSnapshot struct {
	snap  *pebble.Snapshot
	state *storagepb.AppliedState
}

// NewRangeSnapshot captures a range. It fails with ErrUninitialized if
// the range has no applied state here.
func (e *Engine) NewRangeSnapshot(rangeID uint64) (*RangeSnapshot, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	snap := e.db.NewSnapshot()
	state, ok, err := readAppliedState(snap, rangeID)
	if err == nil && (!ok || state.GetDescriptor_() == nil) {
		err = fmt.Errorf("storage: snapshot of range %d: %w", rangeID, ErrUninitialized)
	}
	if err != nil {
		_ = snap.Close()
		return nil, err
	}
	return &RangeSnapshot{snap: snap, state: state}, nil
}

// State returns the range's applied state as of the snapshot (read from
// the same Pebble snapshot as the data). Callers must not modify it.
func (s *RangeSnapshot) State() *storagepb.AppliedState {
	return s.state
}

// Iterate calls fn for every user-data key and value in the arc of
// State().Descriptor, in key order, streaming from Pebble (the range is
// never held in memory). k and v are valid only during the call to fn. An
// error from fn stops the iteration and is returned as is.
func (s *RangeSnapshot) Iterate(fn func(k, v []byte) error) error {
	d := s.state.GetDescriptor_()
	var fnErr error
	for _, span := range UserSpans(d.GetStart(), d.GetEnd()) {
		err := iterate(s.snap, span.Start, span.End, func(k, v []byte) bool {
			fnErr = fn(k, v)
			return fnErr == nil
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return fmt.Errorf("storage: snapshot of range %d: %w", d.GetRangeId(), err)
		}
	}
	return nil
}

// Close releases the snapshot; later calls do nothing.
func (s *RangeSnapshot) Close() {
	if s.snap == nil {
		return
	}
	// Pebble's Close fails only for a snapshot already closed, which the
	// nil check rules out.
	_ = s.snap.Close()
	s.snap = nil
}
