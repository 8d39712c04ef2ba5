package storage

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/storage/storagepb"
)

// targetSSTSize is the size at which a SnapshotWriter starts a new sstable,
// so that a big range becomes several ordinary-sized files instead of one
// huge one.
const targetSSTSize = 64 << 20

// SnapshotWriter receives a range snapshot without holding it in memory:
// keys are streamed into sstables staged under the engine directory, and
// Commit ingests them all in one atomic step.
//
// How the atomic replacement works: each user-data sstable also carries a
// range deletion over exactly the part of the arc it covers, and one more
// sstable carries a range deletion over the range's range-local span plus
// its new applied, hard and truncated state. Pebble ingests a list of
// sstables atomically (one version edit), giving every ingested key a
// sequence number above every existing key, and all keys of one sstable
// the same one; a range deletion deletes only keys with lower sequence
// numbers, so it clears the old data of the arc and the old log without
// touching the keys ingested beside it. The sstables' key spans are
// disjoint, as Pebble requires of one ingestion. (Verified by
// TestIngestedRangeDeletionOnlyClearsOlderData.)
//
// A SnapshotWriter is not safe for concurrent use. Call Commit or Abort;
// Abort after Commit does nothing, so `defer w.Abort()` is fine.
type SnapshotWriter struct {
	e       *Engine
	rangeID uint64
	state   *storagepb.AppliedState
	hs      *raftpb.HardState
	dir     string
	spans   []Span
	// sstTarget is targetSSTSize; tests lower it to exercise splitting.
	sstTarget uint64

	cur    int             // index in spans of the span being written
	w      *sstable.Writer // open sstable, nil between sstables
	wStart []byte          // where the open sstable's range deletion starts
	paths  []string        // finished sstables
	prev   []byte          // last key added (only the last: never all keys)
	keys   int64
	bytes  int64
	err    error // sticky: a failed writer cannot commit
	done   bool
}

// NewSnapshotWriter starts receiving a snapshot of rangeID whose applied
// state is s (s.Descriptor's arc bounds the keys) and whose Raft hard
// state after installation is hs.
func (e *Engine) NewSnapshotWriter(rangeID uint64, s *storagepb.AppliedState, hs *raftpb.HardState) (*SnapshotWriter, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	switch {
	case s == nil || s.GetDescriptor_() == nil:
		return nil, fmt.Errorf("storage: snapshot of range %d: applied state without descriptor", rangeID)
	case s.GetDescriptor_().GetRangeId() != rangeID:
		return nil, fmt.Errorf("storage: snapshot of range %d: descriptor is of range %d", rangeID, s.GetDescriptor_().GetRangeId())
	case hs == nil:
		return nil, fmt.Errorf("storage: snapshot of range %d: nil hard state", rangeID)
	}
	dir := e.fs.PathJoin(e.dir, snapshotDir, fmt.Sprintf("r%d-%d", rangeID, e.snapSeq.Add(1)))
	if err := e.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: snapshot of range %d: %w", rangeID, err)
	}
	d := s.GetDescriptor_()
	return &SnapshotWriter{
		e:         e,
		rangeID:   rangeID,
		state:     proto.Clone(s).(*storagepb.AppliedState),
		hs:        proto.Clone(hs).(*raftpb.HardState),
		dir:       dir,
		spans:     UserSpans(d.GetStart(), d.GetEnd()),
		sstTarget: targetSSTSize,
	}, nil
}

// Add writes one user-data key (an engine key, as produced by UserKey).
// Keys must be strictly increasing and inside the descriptor's arc; any
// error is final: the writer can then only be aborted.
func (w *SnapshotWriter) Add(k, v []byte) error {
	if w.done {
		return fmt.Errorf("storage: snapshot of range %d: writer finished", w.rangeID)
	}
	if w.err != nil {
		return w.err
	}
	if err := w.add(k, v); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *SnapshotWriter) add(k, v []byte) error {
	if w.prev != nil && bytes.Compare(k, w.prev) <= 0 {
		return fmt.Errorf("storage: snapshot of range %d: key %q not after %q: %w", w.rangeID, k, w.prev, ErrSnapshotKey)
	}
	for w.cur < len(w.spans) && bytes.Compare(k, w.spans[w.cur].End) >= 0 {
		if err := w.finishSpan(); err != nil {
			return err
		}
	}
	if w.cur == len(w.spans) || bytes.Compare(k, w.spans[w.cur].Start) < 0 {
		return fmt.Errorf("storage: snapshot of range %d: key %q outside the arc: %w", w.rangeID, k, ErrSnapshotKey)
	}
	switch {
	case w.w == nil:
		if err := w.openSST(w.spans[w.cur].Start); err != nil {
			return err
		}
	case w.w.Raw().EstimatedSize() >= w.sstTarget:
		// Split here: the finished table clears up to k, the next from k.
		if err := w.closeSST(k); err != nil {
			return err
		}
		if err := w.openSST(k); err != nil {
			return err
		}
	}
	if err := w.w.Set(k, v); err != nil {
		return fmt.Errorf("storage: snapshot of range %d: write sstable: %w", w.rangeID, err)
	}
	w.prev = append(w.prev[:0], k...)
	w.keys++
	w.bytes += int64(len(k) + len(v))
	return nil
}

// finishSpan closes the current span's last sstable (creating one with
// only the range deletion if the span got no key) and moves to the next.
func (w *SnapshotWriter) finishSpan() error {
	span := w.spans[w.cur]
	if w.w == nil {
		if err := w.openSST(span.Start); err != nil {
			return err
		}
	}
	if err := w.closeSST(span.End); err != nil {
		return err
	}
	w.cur++
	return nil
}

func (w *SnapshotWriter) newSST() (*sstable.Writer, string, error) {
	path := w.e.fs.PathJoin(w.dir, fmt.Sprintf("%06d.sst", len(w.paths)))
	f, err := w.e.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, "", fmt.Errorf("storage: snapshot of range %d: create sstable: %w", w.rangeID, err)
	}
	opts := w.e.popts.MakeWriterOptions(0, w.e.db.TableFormat())
	return sstable.NewWriter(objstorageprovider.NewFileWritable(f), opts), path, nil
}

func (w *SnapshotWriter) openSST(start []byte) error {
	sw, path, err := w.newSST()
	if err != nil {
		return err
	}
	w.w, w.wStart = sw, bytes.Clone(start)
	w.paths = append(w.paths, path)
	return nil
}

// closeSST finishes the open sstable with a range deletion [wStart, end)
// and syncs it.
func (w *SnapshotWriter) closeSST(end []byte) error {
	sw := w.w
	w.w = nil
	if err := sw.DeleteRange(w.wStart, end); err != nil {
		_ = sw.Close()
		return fmt.Errorf("storage: snapshot of range %d: write sstable: %w", w.rangeID, err)
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("storage: snapshot of range %d: finish sstable: %w", w.rangeID, err)
	}
	return nil
}

// writeLocalSST writes the sstable that replaces the range's range-local
// keys: new applied, hard and truncated state, and a range deletion over
// the rest (the old log, in particular).
func (w *SnapshotWriter) writeLocalSST() error {
	ts := &storagepb.TruncatedState{Index: w.state.GetIndex(), Term: w.state.GetTerm()}
	// Keys in ascending order: 'a' < 'h' < 't'.
	kvs := []struct {
		k []byte
		m proto.Message
	}{
		{AppliedStateKey(w.rangeID), w.state},
		{HardStateKey(w.rangeID), w.hs},
		{TruncatedStateKey(w.rangeID), ts},
	}
	local := RangeLocalSpan(w.rangeID)
	if err := w.openSST(local.Start); err != nil {
		return err
	}
	for _, kv := range kvs {
		v, err := proto.Marshal(kv.m)
		if err == nil {
			err = w.w.Set(kv.k, v)
		}
		if err != nil {
			_ = w.w.Close()
			w.w = nil
			return fmt.Errorf("storage: snapshot of range %d: write state: %w", w.rangeID, err)
		}
	}
	return w.closeSST(local.End)
}

// Commit installs the snapshot in one atomic, durable step: the arc's old
// user data and the range's old log and state are replaced by what was
// added and the new state (applied state, hard state,
// TruncatedState{s.Index, s.Term}). The range's open RaftLog then shows an
// empty log after s.Index and its cached entries are dropped. The staged
// files are removed whether or not Commit succeeds.
func (w *SnapshotWriter) Commit() error {
	if w.done {
		return fmt.Errorf("storage: snapshot of range %d: writer finished", w.rangeID)
	}
	defer w.Abort()
	if w.err != nil {
		return w.err
	}
	if err := w.e.checkOpen(); err != nil {
		return err
	}
	for w.cur < len(w.spans) {
		if err := w.finishSpan(); err != nil {
			return err
		}
	}
	if err := w.writeLocalSST(); err != nil {
		return err
	}
	if err := w.e.db.Ingest(context.Background(), w.paths); err != nil {
		return fmt.Errorf("storage: snapshot of range %d: ingest: %w", w.rangeID, err)
	}
	w.e.resetLog(w.rangeID, logBounds{
		first:     w.state.GetIndex() + 1,
		truncTerm: w.state.GetTerm(),
		last:      w.state.GetIndex(),
	})
	return nil
}

// Abort discards the snapshot and removes its staged files. It does
// nothing after Commit or a previous Abort.
func (w *SnapshotWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.w != nil {
		_ = w.w.Close() // the file is removed below; its contents do not matter
		w.w = nil
	}
	if err := w.e.fs.RemoveAll(w.dir); err != nil {
		w.e.logger.Warn("storage: remove staged snapshot", "dir", w.dir, "err", err)
	}
}

// Stats returns how many keys and bytes (keys plus values) were added.
func (w *SnapshotWriter) Stats() (keys, bytes int64) {
	return w.keys, w.bytes
}
