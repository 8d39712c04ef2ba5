package kv

import (
	"bytes"
	"fmt"

	"github.com/concord-kv/concord/storage"
)

// view is the state one command sees: the store's records overlaid with
// the command's own pending writes. Writes are only buffered; commit
// hands them to the Store at the end, so a command that aborts (a failed
// condition, an overflowing expiry) has written nothing, and later ops of
// a command see earlier ones.
//
// Invariant: slots holds each engine key at most once, in the order the
// command first touched it, and commit writes dirty slots in that order,
// so every replica issues the same Store calls in the same order.
type view struct {
	m     *Machine
	r     Reader
	now   int64
	slots []*slot
	index map[string]*slot // built once slots outgrow a linear search
}

// slot is one engine key's state within a command.
type slot struct {
	ekey []byte
	// rec is the record as of the latest op: the stored one (possibly
	// expired), or the pending write; nil when there is none.
	rec *Record
	// stored: the engine held a record (maybe expired) under ekey before
	// the command, so deleting it needs a Store.Delete.
	stored bool
	// dirty: the command changed rec.
	dirty bool
}

// linearSlots is how many slots are searched linearly before the view
// builds an index; most commands touch one or a few keys.
const linearSlots = 8

func newView(m *Machine, r Reader, now int64) *view {
	return &view{m: m, r: r, now: now}
}

// slot returns the state of user key key, loading it from the store the
// first time.
func (v *view) slot(key []byte) (*slot, error) {
	ekey := storage.UserKey(v.m.Position(key), key)
	if v.index != nil {
		if s, ok := v.index[string(ekey)]; ok {
			return s, nil
		}
	} else {
		for _, s := range v.slots {
			if bytes.Equal(s.ekey, ekey) {
				return s, nil
			}
		}
	}
	raw, ok, err := v.r.Get(ekey)
	if err != nil {
		return nil, fmt.Errorf("kv: get %q: %w", key, err)
	}
	s := &slot{ekey: ekey, stored: ok}
	if ok {
		rec, err := DecodeRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("kv: key %q: %w", key, err)
		}
		// The store may reuse raw after the next call; keep a copy.
		rec.Value = bytes.Clone(rec.Value)
		s.rec = &rec
	}
	v.slots = append(v.slots, s)
	switch {
	case v.index != nil:
		v.index[string(ekey)] = s
	case len(v.slots) > linearSlots:
		v.index = make(map[string]*slot, 2*len(v.slots))
		for _, s := range v.slots {
			v.index[string(s.ekey)] = s
		}
	}
	return s, nil
}

// liveRec returns s's record if it exists and has not expired at the
// view's time, else nil: an expired record is absent to every op.
func (v *view) liveRec(s *slot) *Record {
	if s.rec == nil || s.rec.Expired(v.now) {
		return nil
	}
	return s.rec
}

// live returns key's live record, loading it if needed.
func (v *view) live(key []byte) (*Record, error) {
	s, err := v.slot(key)
	if err != nil {
		return nil, err
	}
	return v.liveRec(s), nil
}

// set buffers a write of rec under s.
func (s *slot) set(rec *Record) {
	s.rec = rec
	s.dirty = true
}

// remove buffers a delete of s.
func (s *slot) remove() {
	s.rec = nil
	s.dirty = true
}

// commit hands the buffered writes to st in first-touch order.
func (v *view) commit(st Store) error {
	for _, s := range v.slots {
		if !s.dirty {
			continue
		}
		if s.rec != nil {
			if err := st.Set(s.ekey, EncodeRecord(s.rec)); err != nil {
				return fmt.Errorf("kv: set: %w", err)
			}
			continue
		}
		if !s.stored {
			// Created and deleted within the command: nothing to undo.
			continue
		}
		if err := st.Delete(s.ekey); err != nil {
			return fmt.Errorf("kv: delete: %w", err)
		}
	}
	return nil
}
