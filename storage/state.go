package storage

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/storage/storagepb"
)

// EncodeConfState returns the bytes stored in AppliedState.ConfState for
// cs (its protobuf wire encoding). A nil cs encodes as an empty ConfState.
func EncodeConfState(cs *raftpb.ConfState) ([]byte, error) {
	b, err := proto.Marshal(cs)
	if err != nil {
		return nil, fmt.Errorf("storage: encode conf state: %w", err)
	}
	return b, nil
}

// DecodeConfState decodes AppliedState.ConfState; empty bytes decode to an
// empty, non-nil ConfState.
func DecodeConfState(b []byte) (*raftpb.ConfState, error) {
	cs := &raftpb.ConfState{}
	if err := proto.Unmarshal(b, cs); err != nil {
		return nil, fmt.Errorf("storage: decode conf state: %w", err)
	}
	return cs, nil
}

// getProto reads key from r into m; ok is false if the key is absent.
func getProto(r pebble.Reader, key []byte, m proto.Message) (ok bool, err error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: get %q: %w", key, err)
	}
	err = proto.Unmarshal(v, m)
	if cerr := closer.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("storage: decode %q: %w", key, err)
	}
	return true, nil
}

// setProto stages key = m in b.
func setProto(b *Batch, key []byte, m proto.Message) error {
	v, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("storage: encode %q: %w", key, err)
	}
	return b.Set(key, v)
}

// SetAppliedState stages a range's applied state. Write it in the same
// batch as the effects of the entries it covers, so that state machine and
// applied index never disagree after a crash.
func (b *Batch) SetAppliedState(rangeID uint64, s *storagepb.AppliedState) error {
	if s == nil {
		return fmt.Errorf("storage: range %d: nil applied state", rangeID)
	}
	return setProto(b, AppliedStateKey(rangeID), s)
}

// AppliedState returns a range's committed applied state; ok is false for
// a range that is not initialized on this node.
func (e *Engine) AppliedState(rangeID uint64) (s *storagepb.AppliedState, ok bool, err error) {
	if err := e.checkOpen(); err != nil {
		return nil, false, err
	}
	return readAppliedState(e.db, rangeID)
}

func readAppliedState(r pebble.Reader, rangeID uint64) (*storagepb.AppliedState, bool, error) {
	s := &storagepb.AppliedState{}
	ok, err := getProto(r, AppliedStateKey(rangeID), s)
	if err != nil || !ok {
		return nil, false, err
	}
	return s, true, nil
}

// HardState returns a range's committed Raft hard state; ok is false if
// none was ever written.
func (e *Engine) HardState(rangeID uint64) (hs *raftpb.HardState, ok bool, err error) {
	if err := e.checkOpen(); err != nil {
		return nil, false, err
	}
	hs = &raftpb.HardState{}
	ok, err = getProto(e.db, HardStateKey(rangeID), hs)
	if err != nil || !ok {
		return nil, false, err
	}
	return hs, true, nil
}

func readTruncatedState(r pebble.Reader, rangeID uint64) (*storagepb.TruncatedState, error) {
	ts := &storagepb.TruncatedState{}
	if _, err := getProto(r, TruncatedStateKey(rangeID), ts); err != nil {
		return nil, err
	}
	return ts, nil
}

// RangeIDs returns, in ascending order, every range with any range-local
// key on this node: initialized ranges have an applied state, uninitialized
// ones (created by a Raft message, waiting for a snapshot) only a hard
// state.
func (e *Engine) RangeIDs() (ids []uint64, err error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	it, err := e.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixRange},
		UpperBound: []byte{prefixRange + 1},
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list ranges: %w", err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("storage: list ranges: %w", cerr)
		}
	}()
	// One seek per range: skip straight past each range's keys.
	for valid := it.First(); valid; {
		id, _, ok := DecodeRangeLocalKey(it.Key())
		if !ok {
			return nil, fmt.Errorf("storage: list ranges: malformed range-local key %q", it.Key())
		}
		ids = append(ids, id)
		valid = it.SeekGE(RangeLocalSpan(id).End)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("storage: list ranges: %w", err)
	}
	return ids, nil
}

// WriteInitialState stages the state of a brand-new range on this node
// (bootstrap, or the right half of a split): its applied state, hard state
// and log truncation point, with an empty log starting after ts.Index. A
// nil hs keeps any hard state already stored (an uninitialized replica's
// vote must survive); a nil ts means a log starting at index 1. An open
// RaftLog of the range reflects the new log once b commits.
func WriteInitialState(b *Batch, rangeID uint64, s *storagepb.AppliedState, hs *raftpb.HardState, ts *storagepb.TruncatedState) error {
	if s == nil {
		return fmt.Errorf("storage: range %d: initial state without applied state", rangeID)
	}
	if ts == nil {
		ts = &storagepb.TruncatedState{}
	}
	if err := b.SetAppliedState(rangeID, s); err != nil {
		return err
	}
	if hs != nil {
		if err := setProto(b, HardStateKey(rangeID), hs); err != nil {
			return err
		}
	}
	if err := setProto(b, TruncatedStateKey(rangeID), ts); err != nil {
		return err
	}
	// A new range has no log; clear leftovers only if there are any, to
	// avoid a range tombstone per split.
	span := LogSpan(rangeID)
	hasLog := false
	if err := b.Iterate(span.Start, span.End, func(_, _ []byte) bool {
		hasLog = true
		return false
	}); err != nil {
		return err
	}
	if hasLog {
		if err := b.DeleteRange(span.Start, span.End); err != nil {
			return err
		}
	}
	bounds := logBounds{first: ts.GetIndex() + 1, truncTerm: ts.GetTerm(), last: ts.GetIndex()}
	for l, p := range b.logs {
		if l.rangeID == rangeID {
			*p = bounds
		}
	}
	e := b.e
	b.OnCommit(func() { e.resetLog(rangeID, bounds) })
	return nil
}

// DestroyRange stages the removal of a replica: every range-local key of
// desc's range and the user data of desc's arc. Once b commits, the
// range's cached entries are dropped and its open RaftLog, if any, is
// retired (its writes fail with ErrDestroyed).
func (e *Engine) DestroyRange(b *Batch, desc *storagepb.RangeDescriptor) error {
	if desc == nil {
		return errors.New("storage: destroy range: nil descriptor")
	}
	rangeID := desc.GetRangeId()
	local := RangeLocalSpan(rangeID)
	if err := b.DeleteRange(local.Start, local.End); err != nil {
		return fmt.Errorf("storage: destroy range %d: %w", rangeID, err)
	}
	for _, s := range UserSpans(desc.GetStart(), desc.GetEnd()) {
		if err := b.DeleteRange(s.Start, s.End); err != nil {
			return fmt.Errorf("storage: destroy range %d: %w", rangeID, err)
		}
	}
	for l := range b.logs {
		if l.rangeID == rangeID {
			delete(b.logs, l)
		}
	}
	b.OnCommit(func() { e.forgetLog(rangeID) })
	return nil
}
