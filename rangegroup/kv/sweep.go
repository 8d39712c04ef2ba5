package kv

import (
	"bytes"
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage"
)

// Expired lists up to limit keys in arc (at most Limits.MaxBatchItems, so
// the list always fits one SweepRequest) whose TTL has passed at now, in
// (position, key) order, with their mod revisions. The leader proposes
// them as a SweepRequest, so expiries are deletes every replica and
// watcher sees. It scans the arc's records; limit must be positive.
func (m *Machine) Expired(r Reader, arc Arc, now int64, limit int) ([]*kvpb.SweepItem, error) {
	l, err := m.limits()
	if err != nil {
		return nil, fmt.Errorf("kv: expired: %w", err)
	}
	if limit < 1 {
		return nil, fmt.Errorf("kv: expired: %w", invalid(ErrInvalidArgument, "limit %d must be positive", limit))
	}
	limit = min(limit, l.MaxBatchItems)
	var items []*kvpb.SweepItem
	err = scanArc(r, arc, nil, func(_ uint64, k []byte, rec *Record) bool {
		if rec.Expired(now) {
			items = append(items, &kvpb.SweepItem{Key: bytes.Clone(k), ModRevision: rec.ModRevision})
		}
		return len(items) < limit
	})
	if err != nil {
		return nil, fmt.Errorf("kv: expired: %w", err)
	}
	return items, nil
}

// sweep deletes each listed key that is still expired and still has the
// listed mod revision. An item that no longer qualifies is skipped and
// reported (NOT_FOUND: already gone; CONDITION_FAILED: rewritten, touched
// or not expired); it never aborts the others.
func (x *exec) sweep(sw *kvpb.SweepRequest) (*kvpb.Response, error) {
	resp := &kvpb.Response{Results: make([]*kvpb.Result, 0, len(sw.GetItems()))}
	for _, it := range sw.GetItems() {
		s, err := x.view.slot(it.GetKey())
		if err != nil {
			return nil, err
		}
		var r *kvpb.Result
		switch {
		case s.rec == nil:
			r = notFound(it.GetKey())
		case !s.rec.Expired(x.view.now):
			r = failResult(kvpb.ErrorCode_CONDITION_FAILED, "key %q has not expired", it.GetKey())
		case s.rec.ModRevision != it.GetModRevision():
			r = failResult(kvpb.ErrorCode_CONDITION_FAILED, "key %q: mod revision is %d, listed %d",
				it.GetKey(), s.rec.ModRevision, it.GetModRevision())
		default:
			r = okResult(s.rec, false)
			s.remove()
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

// scanArc calls fn with the position, user key and record of every stored record in
// arc whose engine key is after the cursor (all when after is nil), in
// (position, key) order, expired ones included, until fn returns false.
// The key and the record's value are valid only during the call.
func scanArc(r Reader, arc Arc, after []byte, fn func(pos uint64, key []byte, rec *Record) bool) error {
	var bad error
	more := true
	for _, sp := range arc.spans() {
		lo := sp.Start
		if after != nil && bytes.Compare(after, lo) >= 0 {
			// The smallest engine key strictly after the cursor.
			lo = append(bytes.Clone(after), 0)
		}
		if bytes.Compare(lo, sp.End) >= 0 {
			continue
		}
		err := r.Iterate(lo, sp.End, func(k, v []byte) bool {
			pos, key, isUser := storage.DecodeUserKey(k)
			if !isUser {
				bad = fmt.Errorf("%w: engine key %x in the user span", ErrCorruptRecord, k)
				return false
			}
			rec, err := DecodeRecord(v)
			if err != nil {
				bad = fmt.Errorf("key %q: %w", key, err)
				return false
			}
			more = fn(pos, key, &rec)
			return more
		})
		if err != nil {
			return fmt.Errorf("iterate: %w", err)
		}
		if bad != nil {
			return bad
		}
		if !more {
			return nil
		}
	}
	return nil
}
