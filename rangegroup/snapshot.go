package rangegroup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/rgpb"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
	"github.com/concord-kv/concord/transport/raftwire"
)

// ErrSnapshotRejected: the receiving replica could not use a snapshot (it
// is not newer than what the replica has, or it overlaps another range).
var ErrSnapshotRejected = errors.New("snapshot rejected")

// startSnapshotLocked streams the range to a follower that Raft says needs
// a snapshot. The data comes from a Pebble snapshot taken now, so the
// metadata sent is that snapshot's applied state rather than whatever
// Storage.Snapshot returned earlier: data and metadata must agree. One
// goroutine per snapshot in flight; the transport bounds how many run.
func (r *replica) startSnapshotLocked(m *raftpb.Message) {
	to := m.GetTo()
	if r.snapshotsOut[to] {
		return
	}
	node := r.peerNodeLocked(to)
	if node == "" || r.store.cfg.Transport == nil {
		r.rn.ReportSnapshot(to, raft.SnapshotFailure)
		return
	}
	r.snapshotsOut[to] = true
	r.store.wg.Add(1)
	go func() {
		defer r.store.wg.Done()
		err := r.sendSnapshot(node, m)
		r.mu.Lock()
		delete(r.snapshotsOut, to)
		status := raft.SnapshotFinish
		r.store.metrics.snapshotsSent.WithLabelValues(resultLabel(err)).Inc()
		if err != nil {
			status = raft.SnapshotFailure
			r.store.cfg.Logger.Info("snapshot failed", "range", r.rangeID, "to", node, "err", err)
		}
		if !r.destroyed {
			r.rn.ReportSnapshot(to, status)
		}
		r.mu.Unlock()
		r.store.sched.enqueue(r.rangeID)
	}()
}

func (r *replica) sendSnapshot(node string, orig *raftpb.Message) error {
	snap, err := r.store.cfg.Engine.NewRangeSnapshot(r.rangeID)
	if err != nil {
		return fmt.Errorf("open range snapshot: %w", err)
	}
	defer snap.Close()
	state := snap.State()
	cs, err := storage.DecodeConfState(state.ConfState)
	if err != nil {
		return err
	}
	m := proto.Clone(orig).(*raftpb.Message)
	m.Snapshot = &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(state.Index), Term: proto.Uint64(state.Term), ConfState: cs}}
	msgBytes, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	stateBytes, err := proto.Marshal(state)
	if err != nil {
		return err
	}
	header, err := proto.Marshal(&rgpb.SnapshotHeader{RangeId: r.rangeID, Message: msgBytes, AppliedState: stateBytes})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.store.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	limit := r.store.cfg.SnapshotChunkSize
	return r.store.cfg.Transport.SendSnapshot(ctx, node, header, func(yield func([]byte) error) error {
		var chunk rgpb.SnapshotChunk
		size := 0
		flush := func() error {
			if len(chunk.Keys) == 0 {
				return nil
			}
			b, err := proto.Marshal(&chunk)
			if err != nil {
				return err
			}
			chunk.Keys, chunk.Values, size = chunk.Keys[:0], chunk.Values[:0], 0
			r.store.metrics.snapshotBytes.WithLabelValues("sent").Add(float64(len(b)))
			return yield(b)
		}
		err := snap.Iterate(func(k, v []byte) error {
			chunk.Keys = append(chunk.Keys, append([]byte(nil), k...))
			chunk.Values = append(chunk.Values, append([]byte(nil), v...))
			size += len(k) + len(v)
			if size >= limit {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	})
}

// incomingSnapshot is a received snapshot, written to disk but not yet
// ingested, waiting for Raft to accept its message.
type incomingSnapshot struct {
	index   uint64
	state   *storagepb.AppliedState
	writer  *storage.SnapshotWriter
	stepped bool
	done    chan error // buffered(1)
}

// HandleSnapshot implements raftwire.Handler: it writes the streamed range
// into an sstable, then hands the snapshot message to Raft; the data is
// ingested when Raft's Ready carries the snapshot, and the sender is
// answered once that happened (or Raft declined).
func (s *Store) HandleSnapshot(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error {
	received := s.metrics.snapshotBytes.WithLabelValues("received")
	counted := func() ([]byte, error) {
		b, err := next()
		received.Add(float64(len(b)))
		return b, err
	}
	err := s.receiveSnapshot(from, header, counted)
	s.metrics.snapshotsRecv.WithLabelValues(resultLabel(err)).Inc()
	return err
}

// resultLabel is the metrics label of an outcome.
func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrSnapshotRejected):
		return "rejected"
	default:
		return "error"
	}
}

func (s *Store) receiveSnapshot(from string, header []byte, next func() ([]byte, error)) error {
	var h rgpb.SnapshotHeader
	if err := proto.Unmarshal(header, &h); err != nil {
		return fmt.Errorf("decode snapshot header: %w", err)
	}
	msg := &raftpb.Message{}
	if err := proto.Unmarshal(h.Message, msg); err != nil {
		return fmt.Errorf("decode snapshot message: %w", err)
	}
	state := &storagepb.AppliedState{}
	if err := proto.Unmarshal(h.AppliedState, state); err != nil {
		return fmt.Errorf("decode snapshot state: %w", err)
	}
	if msg.GetType() != raftpb.MessageType_MsgSnap || state.Index != msg.GetSnapshot().GetMetadata().GetIndex() || state.Descriptor_.GetRangeId() != h.RangeId {
		return fmt.Errorf("range %d: inconsistent snapshot header: %w", h.RangeId, ErrSnapshotRejected)
	}
	r := s.replicaForMessage(raftwire.Message{RangeID: h.RangeId, Msg: msg})
	if r == nil {
		return fmt.Errorf("range %d: no replica for snapshot: %w", h.RangeId, ErrSnapshotRejected)
	}
	if _, blocked := s.subsumedBy(h.RangeId, state.Descriptor_); blocked {
		return fmt.Errorf("range %d: snapshot overlaps another range on this node: %w", h.RangeId, ErrSnapshotRejected)
	}
	r.mu.Lock()
	if to := msg.GetTo(); to > r.replicaID && !r.destroyed {
		// A newer incarnation of this node's replica: retire this one; the
		// sender retries the snapshot to the new one.
		r.supersededBy = max(r.supersededBy, to)
		r.mu.Unlock()
		s.sched.enqueue(h.RangeId)
		return fmt.Errorf("range %d: replica %d replaced by %d: %w", h.RangeId, r.replicaID, to, ErrSnapshotRejected)
	}
	if r.destroyed || r.replicaID != msg.GetTo() || (r.state != nil && r.state.Index >= state.Index) || r.snapshotIn != nil {
		r.mu.Unlock()
		return fmt.Errorf("range %d: snapshot at %d not needed: %w", h.RangeId, state.Index, ErrSnapshotRejected)
	}
	cur := r.rn.BasicStatus().HardState
	r.mu.Unlock()
	hs := &raftpb.HardState{
		Term:   proto.Uint64(max(cur.GetTerm(), msg.GetTerm())),
		Vote:   proto.Uint64(cur.GetVote()),
		Commit: proto.Uint64(max(cur.GetCommit(), state.Index)),
	}
	w, err := s.cfg.Engine.NewSnapshotWriter(h.RangeId, state, hs)
	if err != nil {
		return fmt.Errorf("range %d: %w", h.RangeId, err)
	}
	for {
		b, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.Abort()
			return fmt.Errorf("range %d: receive snapshot: %w", h.RangeId, err)
		}
		var chunk rgpb.SnapshotChunk
		if err := proto.Unmarshal(b, &chunk); err != nil || len(chunk.Keys) != len(chunk.Values) {
			w.Abort()
			return fmt.Errorf("range %d: bad snapshot chunk: %w", h.RangeId, ErrSnapshotRejected)
		}
		for i := range chunk.Keys {
			if err := w.Add(chunk.Keys[i], chunk.Values[i]); err != nil {
				w.Abort()
				return fmt.Errorf("range %d: write snapshot: %w", h.RangeId, err)
			}
		}
	}
	in := &incomingSnapshot{index: state.Index, state: state, writer: w, done: make(chan error, 1)}
	r.mu.Lock()
	if r.snapshotIn != nil || r.destroyed {
		r.mu.Unlock()
		w.Abort()
		return fmt.Errorf("range %d: another snapshot is being applied: %w", h.RangeId, ErrSnapshotRejected)
	}
	r.snapshotIn = in
	r.mu.Unlock()
	r.inboxMu.Lock()
	r.inbox = append(r.inbox, inboundMessage{msg: msg, from: from, at: time.Now()})
	r.inboxMu.Unlock()
	s.sched.enqueue(h.RangeId)
	select {
	case err := <-in.done:
		return err
	case <-s.stopc:
		return ErrStopped
	}
}

// ingestSnapshot makes the snapshot Raft just accepted durable by ingesting
// the received data. Called by the worker before persisting the rest of the
// Ready.
func (r *replica) ingestSnapshot(snap *raftpb.Snapshot) error {
	r.mu.Lock()
	in := r.snapshotIn
	r.mu.Unlock()
	if in == nil || in.index != snap.GetMetadata().GetIndex() {
		return fmt.Errorf("range %d: raft restored snapshot %d that was not received", r.rangeID, snap.GetMetadata().GetIndex())
	}
	if err := in.writer.Commit(); err != nil {
		return fmt.Errorf("range %d: ingest snapshot: %w", r.rangeID, err)
	}
	// Ranges the snapshot's range has absorbed by merges this replica did
	// not apply: their data was just replaced.
	subsumed, _ := r.store.subsumedBy(r.rangeID, in.state.Descriptor_)
	for _, old := range subsumed {
		if err := r.store.retireSubsumed(old); err != nil {
			return err
		}
	}
	cs, err := storage.DecodeConfState(in.state.ConfState)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.setStateLocked(in.state)
	r.stampAppliedAt = time.Now()
	r.confState = cs
	r.truncatedTo = in.index
	r.snapshotIn = nil
	r.releaseReadsLocked()
	r.store.watch.start(r.rangeID, appliedRevision(in.state))
	r.mu.Unlock()
	in.done <- nil
	return nil
}

// rejectUnsteppedSnapshotLocked answers a received snapshot that Raft
// stepped but did not restore (it was stale by the time it arrived).
func (r *replica) rejectUnsteppedSnapshotLocked() {
	if in := r.snapshotIn; in != nil && in.stepped {
		r.snapshotIn = nil
		in.writer.Abort()
		in.done <- fmt.Errorf("range %d: raft declined snapshot at %d: %w", r.rangeID, in.index, ErrSnapshotRejected)
	}
}
