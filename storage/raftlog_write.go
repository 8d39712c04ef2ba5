package storage

import (
	"fmt"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/storage/storagepb"
)

// pointDeleteMax is the largest run of log entries cleared with point
// deletions; longer runs get one range tombstone. Point deletions keep the
// LSM free of tombstones for the common small cases (a conflicting tail of
// a few entries); a tombstone keeps a large truncation cheap to stage.
const pointDeleteMax = 32

// view returns the bounds l will have once b commits, given what b has
// already staged for l.
func (l *RaftLog) view(b *Batch) (*logBounds, error) {
	if b.done {
		return nil, ErrBatchDone
	}
	if p := b.logs[l]; p != nil {
		return p, nil
	}
	l.mu.Lock()
	bounds, destroyed := l.b, l.destroyed
	l.mu.Unlock()
	if destroyed {
		return nil, fmt.Errorf("storage: range %d: %w", l.rangeID, ErrDestroyed)
	}
	if b.logs == nil {
		b.logs = make(map[*RaftLog]*logBounds)
	}
	p := &bounds
	b.logs[l] = p
	return p, nil
}

// Append stages ents (consecutive indices) at the end of the log. Existing
// entries at the same or later indices are replaced: raft appends over a
// conflicting tail, which is deleted past the last new entry. Entries
// already truncated are skipped. The log's last index and the entry cache
// change when b commits. ents must not be modified afterwards (the cache
// keeps them).
func (l *RaftLog) Append(b *Batch, ents []*raftpb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	p, err := l.view(b)
	if err != nil {
		return err
	}
	firstNew := ents[0].GetIndex()
	for i, e := range ents {
		if e.GetIndex() != firstNew+uint64(i) {
			return fmt.Errorf("storage: range %d: append: entry %d has index %d, want %d: %w",
				l.rangeID, i, e.GetIndex(), firstNew+uint64(i), ErrLogGap)
		}
	}
	if firstNew > p.last+1 {
		return fmt.Errorf("storage: range %d: append at %d after last index %d: %w",
			l.rangeID, firstNew, p.last, ErrLogGap)
	}
	lastNew := firstNew + uint64(len(ents)) - 1
	if lastNew < p.first {
		return nil // entirely below the truncation point
	}
	if firstNew < p.first {
		ents = ents[p.first-firstNew:]
	}
	var buf []byte
	for _, e := range ents {
		buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], e)
		if err != nil {
			return fmt.Errorf("storage: range %d: encode entry %d: %w", l.rangeID, e.GetIndex(), err)
		}
		if err := b.Set(LogKey(l.rangeID, e.GetIndex()), buf); err != nil {
			return err
		}
	}
	if lastNew < p.last {
		if err := clearLog(b, l.rangeID, lastNew+1, p.last+1); err != nil {
			return err
		}
	}
	p.last = lastNew
	cached := slices.Clone(ents)
	b.OnCommit(func() {
		l.mu.Lock()
		if !l.destroyed {
			l.b.last = lastNew
		}
		l.mu.Unlock()
		l.e.cache.add(l.rangeID, cached)
	})
	return nil
}

// SetHardState stages the range's Raft hard state. Stage it in the same
// batch as the entries of the same Ready.
func (l *RaftLog) SetHardState(b *Batch, hs *raftpb.HardState) error {
	if hs == nil {
		return fmt.Errorf("storage: range %d: nil hard state", l.rangeID)
	}
	if _, err := l.view(b); err != nil {
		return err
	}
	return setProto(b, HardStateKey(l.rangeID), hs)
}

// Truncate stages the removal of log entries up to and including index and
// records TruncatedState{index, term(index)}. Only truncate applied
// entries. Truncating at or below the current truncation point does
// nothing. The first index moves when b commits.
func (l *RaftLog) Truncate(b *Batch, index uint64) error {
	p, err := l.view(b)
	if err != nil {
		return err
	}
	if index < p.first {
		return nil
	}
	if index > p.last {
		return fmt.Errorf("storage: range %d: truncate at %d beyond last index %d", l.rangeID, index, p.last)
	}
	// Read through the batch: the entry may have been appended by it.
	ent := &raftpb.Entry{}
	ok, err := getProto(b.pb, LogKey(l.rangeID, index), ent)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("storage: range %d: truncate at %d: entry missing", l.rangeID, index)
	}
	term := ent.GetTerm()
	if err := clearLog(b, l.rangeID, p.first, index+1); err != nil {
		return err
	}
	ts := &storagepb.TruncatedState{Index: index, Term: term}
	if err := setProto(b, TruncatedStateKey(l.rangeID), ts); err != nil {
		return err
	}
	p.first, p.truncTerm = index+1, term
	b.OnCommit(func() {
		l.mu.Lock()
		if !l.destroyed {
			l.b.first, l.b.truncTerm = index+1, term
		}
		l.mu.Unlock()
		l.e.cache.truncateFront(l.rangeID, index)
	})
	return nil
}

// clearLog stages the removal of a range's entries [lo, hi).
func clearLog(b *Batch, rangeID, lo, hi uint64) error {
	if hi <= lo {
		return nil
	}
	if hi-lo > pointDeleteMax {
		return b.DeleteRange(LogKey(rangeID, lo), LogKey(rangeID, hi))
	}
	for i := lo; i < hi; i++ {
		if err := b.Delete(LogKey(rangeID, i)); err != nil {
			return err
		}
	}
	return nil
}
