package storage

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// logBounds is the shape of a range's log: entries first..last are stored
// (none when last < first), and the entry just before first, removed by
// truncation or replaced by a snapshot, had term truncTerm.
type logBounds struct {
	first     uint64
	truncTerm uint64
	last      uint64
}

// RaftLog is one range's Raft log and state, implementing raft.Storage on
// top of the engine and its entry cache. Keep one per range (Engine.RaftLog
// returns the same one until the range is destroyed). It is safe for
// concurrent use: raft reads it under the replica's lock while commit hooks
// update it from the goroutine that commits a batch.
//
// Writes (Append, SetHardState, Truncate) are staged in a Batch; the
// in-memory bounds and the entry cache change only in the batch's commit
// hook, so readers never see entries that are not committed. Between a
// batch's Pebble commit and its hook, readers may find entries already
// removed from Pebble; they then report raft.ErrCompacted, as raft expects
// of a racing truncation. A range's log must not be staged in two open
// batches at once.
type RaftLog struct {
	e       *Engine
	rangeID uint64

	mu        sync.Mutex
	b         logBounds
	destroyed bool
}

var _ raft.Storage = (*RaftLog)(nil)

// RaftLog returns the log of a range, loading its bounds from the engine
// the first time. Later calls return the same RaftLog until the range is
// destroyed. Do not open a range's log concurrently with a commit that
// writes that range's state.
func (e *Engine) RaftLog(rangeID uint64) (*RaftLog, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if l := e.logs[rangeID]; l != nil {
		return l, nil
	}
	b, err := loadLogBounds(e.db, rangeID)
	if err != nil {
		return nil, err
	}
	l := &RaftLog{e: e, rangeID: rangeID, b: b}
	e.logs[rangeID] = l
	return l, nil
}

// loadLogBounds reads a range's truncated state and last log index.
func loadLogBounds(r pebble.Reader, rangeID uint64) (logBounds, error) {
	ts, err := readTruncatedState(r, rangeID)
	if err != nil {
		return logBounds{}, err
	}
	b := logBounds{first: ts.GetIndex() + 1, truncTerm: ts.GetTerm(), last: ts.GetIndex()}
	span := LogSpan(rangeID)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: span.Start, UpperBound: span.End})
	if err != nil {
		return logBounds{}, fmt.Errorf("storage: range %d: load log: %w", rangeID, err)
	}
	if it.Last() {
		if idx := logIndex(it.Key()); idx > b.last {
			b.last = idx
		}
	}
	err = it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return logBounds{}, fmt.Errorf("storage: range %d: load log: %w", rangeID, err)
	}
	return b, nil
}

// logIndex extracts the index from a LogKey.
func logIndex(k []byte) uint64 {
	return binary.BigEndian.Uint64(k[10:18])
}

// resetLog gives a range's open log, if any, new bounds and an empty
// cache, after its log was replaced wholesale.
func (e *Engine) resetLog(rangeID uint64, b logBounds) {
	e.mu.Lock()
	l := e.logs[rangeID]
	e.mu.Unlock()
	if l != nil {
		l.mu.Lock()
		l.b = b
		l.mu.Unlock()
	}
	e.cache.drop(rangeID)
}

// forgetLog retires a destroyed range's open log and cached entries.
func (e *Engine) forgetLog(rangeID uint64) {
	e.mu.Lock()
	l := e.logs[rangeID]
	delete(e.logs, rangeID)
	e.mu.Unlock()
	if l != nil {
		l.mu.Lock()
		l.b = logBounds{first: 1}
		l.destroyed = true
		l.mu.Unlock()
	}
	e.cache.drop(rangeID)
}

// RangeID returns the id of the range whose log this is.
func (l *RaftLog) RangeID() uint64 { return l.rangeID }

func (l *RaftLog) bounds() logBounds {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b
}

// InitialState implements raft.Storage: the stored hard state (empty if
// none) and the ConfState of the applied state (empty for an uninitialized
// range).
func (l *RaftLog) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	if err := l.e.checkOpen(); err != nil {
		return nil, nil, err
	}
	hs := &raftpb.HardState{}
	if _, err := getProto(l.e.db, HardStateKey(l.rangeID), hs); err != nil {
		return nil, nil, err
	}
	as, ok, err := readAppliedState(l.e.db, l.rangeID)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return hs, &raftpb.ConfState{}, nil
	}
	cs, err := DecodeConfState(as.GetConfState())
	if err != nil {
		return nil, nil, fmt.Errorf("storage: range %d: %w", l.rangeID, err)
	}
	return hs, cs, nil
}

// Entries implements raft.Storage: entries [lo, hi), at least one, and no
// more than fit in maxSize bytes (encoded) beyond the first. Cached entries
// are served from memory, the rest from Pebble. The caller owns the
// returned slice but must not modify the entries.
func (l *RaftLog) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	if err := l.e.checkOpen(); err != nil {
		return nil, err
	}
	b := l.bounds()
	if lo < b.first {
		return nil, raft.ErrCompacted
	}
	if hi > b.last+1 {
		return nil, raft.ErrUnavailable
	}
	if lo >= hi {
		return nil, nil
	}
	acc := entryAccumulator{max: maxSize}
	for idx := lo; idx < hi && !acc.full; {
		n, nextCached := l.e.cache.fill(l.rangeID, idx, hi, &acc)
		idx += n
		if idx >= hi || acc.full {
			break
		}
		stop := hi
		if n == 0 && nextCached > idx && nextCached < hi {
			stop = nextCached
		}
		m, err := l.readEntries(idx, stop, &acc)
		if err != nil {
			return nil, err
		}
		idx += m
		if idx < stop && !acc.full {
			return nil, l.missing(idx)
		}
	}
	return acc.ents, nil
}

// readEntries appends the committed entries [lo, hi) from Pebble to acc
// until acc is full or an index is missing; it returns how many it added.
func (l *RaftLog) readEntries(lo, hi uint64, acc *entryAccumulator) (n uint64, err error) {
	it, err := l.e.db.NewIter(&pebble.IterOptions{
		LowerBound: LogKey(l.rangeID, lo),
		UpperBound: LogKey(l.rangeID, hi),
	})
	if err != nil {
		return 0, fmt.Errorf("storage: range %d: read log: %w", l.rangeID, err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("storage: range %d: read log: %w", l.rangeID, cerr)
		}
	}()
	for valid := it.First(); valid; valid = it.Next() {
		if logIndex(it.Key()) != lo+n {
			break // a hole; the caller decides what it means
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return n, fmt.Errorf("storage: range %d: read log entry %d: %w", l.rangeID, lo+n, err)
		}
		// The stored bytes are the entry's encoding, so their length is
		// the size raft counts; check it before paying for decoding.
		if !acc.fits(int64(len(v))) {
			acc.full = true
			break
		}
		ent := &raftpb.Entry{}
		if err := proto.Unmarshal(v, ent); err != nil {
			return n, fmt.Errorf("storage: range %d: decode log entry %d: %w", l.rangeID, lo+n, err)
		}
		acc.add(ent, int64(len(v)))
		n++
	}
	if err := it.Error(); err != nil {
		return n, fmt.Errorf("storage: range %d: read log: %w", l.rangeID, err)
	}
	return n, nil
}

// missing explains an entry absent from Pebble although the in-memory
// bounds include it: if the stored truncation point has passed it, a
// truncation or snapshot raced with the read (raft.ErrCompacted, which
// raft handles); otherwise the log is damaged.
func (l *RaftLog) missing(index uint64) error {
	ts, err := readTruncatedState(l.e.db, l.rangeID)
	if err != nil {
		return err
	}
	if index <= ts.GetIndex() {
		return raft.ErrCompacted
	}
	return fmt.Errorf("storage: range %d: log entry %d missing above truncation point %d: %w",
		l.rangeID, index, ts.GetIndex(), raft.ErrUnavailable)
}

// Term implements raft.Storage: the term of entry i, for i in
// [FirstIndex()-1, LastIndex()].
func (l *RaftLog) Term(i uint64) (uint64, error) {
	if err := l.e.checkOpen(); err != nil {
		return 0, err
	}
	b := l.bounds()
	switch {
	case i+1 < b.first:
		return 0, raft.ErrCompacted
	case i+1 == b.first:
		return b.truncTerm, nil
	case i > b.last:
		return 0, raft.ErrUnavailable
	}
	if t, ok := l.e.cache.term(l.rangeID, i); ok {
		return t, nil
	}
	ent := &raftpb.Entry{}
	ok, err := getProto(l.e.db, LogKey(l.rangeID, i), ent)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, l.missing(i)
	}
	return ent.GetTerm(), nil
}

// LastIndex implements raft.Storage.
func (l *RaftLog) LastIndex() (uint64, error) {
	return l.bounds().last, nil
}

// FirstIndex implements raft.Storage: the truncated index plus one.
func (l *RaftLog) FirstIndex() (uint64, error) {
	return l.bounds().first, nil
}

// Snapshot implements raft.Storage. It returns only metadata (index, term
// and ConfState of the applied state): the data travels out of band, read
// from a RangeSnapshot. It returns raft.ErrSnapshotTemporarilyUnavailable
// for a range without applied state.
func (l *RaftLog) Snapshot() (*raftpb.Snapshot, error) {
	if err := l.e.checkOpen(); err != nil {
		return nil, err
	}
	as, ok, err := readAppliedState(l.e.db, l.rangeID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	cs, err := DecodeConfState(as.GetConfState())
	if err != nil {
		return nil, fmt.Errorf("storage: range %d: %w", l.rangeID, err)
	}
	return &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		Index:     proto.Uint64(as.GetIndex()),
		Term:      proto.Uint64(as.GetTerm()),
		ConfState: cs,
	}}, nil
}
