package rangegroup

import (
	"errors"
	"fmt"
	"math"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/concord-kv/concord/transport/raftwire"
)

// readyWork is one range's Ready being handled by a worker.
type readyWork struct {
	r  *replica
	rd raft.Ready
	// early are the committed entries already durable in this replica's
	// log before this pass: they are applied before the pass's sync, so a
	// write is acknowledged one fsync sooner. late are the rest, applied
	// after it.
	early, late []*raftpb.Entry
	// applied is the outcome of applying rd.CommittedEntries, published
	// once the apply batch is committed.
	applied *applyResult
	// noReady: rd is empty, Ready was not called; the pass only applies
	// deferred entries.
	noReady bool
}

// process is a scheduler worker's pass over a batch of ranges: step their
// inboxes and ticks, collect their Readys, persist all of them in one
// synced batch, send, apply in one unsynced batch, advance.
func (s *Store) process(ids []uint64) {
	work := make([]*readyWork, 0, len(ids))
	for _, id := range ids {
		s.mu.RLock()
		r := s.replicas[id]
		s.mu.RUnlock()
		if r == nil {
			continue
		}
		if w := r.prepare(); w != nil {
			work = append(work, w)
		} else if r.superseded() {
			s.replaceIncarnation(r)
		}
	}
	if len(work) == 0 {
		return
	}
	// Entries already durable are applied while this pass's new entries
	// are being synced: the apply's CPU work overlaps the fsync. A
	// configuration change among them may remove the replica, whose log
	// the persist is writing, so then the apply goes first, alone.
	early := func(w *readyWork) []*raftpb.Entry { return w.early }
	earlyDone := make(chan error, 1)
	if overlapSafe(work) {
		go func() { earlyDone <- s.apply(work, early) }()
	} else {
		earlyDone <- s.apply(work, early)
	}
	start := time.Now()
	if err := s.persist(work); err != nil {
		s.fatal(err)
	}
	if err := <-earlyDone; err != nil {
		s.fatal(err)
	}
	s.metrics.readyBatches.Inc()
	s.metrics.batchRanges.Observe(float64(len(work)))
	s.metrics.syncDuration.Observe(time.Since(start).Seconds())
	for _, w := range work {
		s.send(w.r, w.rd.Messages)
	}
	if err := s.apply(work, func(w *readyWork) []*raftpb.Entry { return w.late }); err != nil {
		s.fatal(err)
	}
	var again []uint64
	for _, w := range work {
		// Truncation writes the log too, so it waits until this pass's
		// persist is done.
		w.r.maybeTruncate()
		if w.r.advance(w) {
			again = append(again, w.r.rangeID)
		}
	}
	s.sched.enqueueAll(again)
}

// overlapSafe reports whether the early entries of a pass can be applied
// concurrently with persisting it: none of them is a configuration change
// (which may destroy a replica being persisted) and there is some to apply.
func overlapSafe(work []*readyWork) bool {
	some := false
	for _, w := range work {
		for _, e := range w.early {
			if e.GetType() != raftpb.EntryType_EntryNormal {
				return false
			}
			some = true
		}
	}
	return some
}

// fatal stops the process on a storage failure: after a failed sync or
// write, what is on disk is unknown, and continuing could acknowledge
// writes that are not durable or vote twice in a term.
func (s *Store) fatal(err error) {
	s.cfg.Logger.Error("storage failure; stopping", "err", err)
	panic(fmt.Sprintf("rangegroup: storage failure: %v", err))
}

// prepare steps the replica's queued messages and ticks and returns its
// Ready, or nil when it has nothing to do.
func (r *replica) prepare() *readyWork {
	r.inboxMu.Lock()
	inbox, ticks := r.inbox, r.ticks
	r.inbox, r.ticks = nil, 0
	r.inboxMu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.destroyed {
		return nil
	}
	// A message for a higher replica id means this node's replica was
	// removed from the range (it never heard) and a new one added: this
	// incarnation is garbage. The worker replaces it after this pass.
	for i := range inbox {
		if to := inbox[i].msg.GetTo(); to > r.replicaID && r.supersededBy < to {
			r.supersededBy = to
		}
	}
	if r.supersededBy != 0 {
		r.supersededInbox = append(r.supersededInbox, inbox...)
		return nil
	}
	for i := range inbox {
		m := &inbox[i]
		if m.msg.GetTo() != r.replicaID {
			continue // addressed to an earlier incarnation
		}
		if from := m.msg.GetFrom(); from != 0 {
			r.lastHeard[from] = m.at
			if m.from != "" {
				r.peerNodes[from] = m.from
			}
		}
		if m.msg.GetType() == raftpb.MessageType_MsgSnap && r.snapshotIn != nil && r.snapshotIn.index == m.msg.GetSnapshot().GetMetadata().GetIndex() {
			r.snapshotIn.stepped = true
		}
		err := r.rn.Step(m.msg)
		if err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) && !errors.Is(err, raft.ErrStepLocalMsg) {
			r.store.cfg.Logger.Debug("raft step", "range", r.rangeID, "type", m.msg.GetType(), "err", err)
		}
	}
	// Ticks that piled up while the worker was busy count once: catching
	// up on them all at once would fire election timeouts that no real
	// silence caused.
	if ticks > 0 {
		r.rn.Tick()
	}
	r.issueReadIndexLocked()
	deferred := r.takeDeferredLocked()
	if !r.rn.HasReady() {
		r.rejectUnsteppedSnapshotLocked()
		if len(deferred) == 0 {
			return nil
		}
		return &readyWork{r: r, early: deferred, noReady: true}
	}
	rd := r.rn.Ready()
	if raft.IsEmptySnap(rd.Snapshot) {
		r.rejectUnsteppedSnapshotLocked()
	}
	if rd.SoftState != nil && rd.SoftState.Lead != r.leaderID {
		wasLeader := r.isLeaderLocked()
		r.leaderID = rd.SoftState.Lead
		if wasLeader {
			r.lostLeadershipLocked()
		}
		r.store.metrics.leaderChanges.Inc()
		close(r.leaderChanged)
		r.leaderChanged = make(chan struct{})
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		r.term = rd.HardState.GetTerm()
	}
	r.handleReadStatesLocked(rd.ReadStates)
	w := &readyWork{r: r, rd: rd}
	// Only entries persisted by earlier passes, and below anything this
	// Ready rewrites, may be applied before this pass's sync; after a
	// snapshot nothing may (the entries apply on top of it).
	limit := r.persistedIndex
	if len(rd.Entries) > 0 {
		limit = min(limit, rd.Entries[0].GetIndex()-1)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		// The snapshot is newer than anything deferred.
		limit, deferred = 0, nil
	}
	i := 0
	for i < len(rd.CommittedEntries) && rd.CommittedEntries[i].GetIndex() <= limit {
		i++
	}
	w.early, w.late = append(deferred, rd.CommittedEntries[:i]...), rd.CommittedEntries[i:]
	return w
}

// takeDeferredLocked returns the committed entries to apply before this
// pass's own: those parked behind a Merge, or else those of this
// replica's log that a Merge proved committed (through forceApplyTo) but
// Raft has not yet handed over. Both are durable here.
func (r *replica) takeDeferredLocked() []*raftpb.Entry {
	if len(r.parked) > 0 {
		p := r.parked
		r.parked = nil
		return p
	}
	if r.state == nil || r.forceApplyTo <= r.state.Index {
		return nil
	}
	hi := min(r.forceApplyTo, r.persistedIndex)
	if hi <= r.state.Index {
		return nil
	}
	ents, err := r.log.Entries(r.state.Index+1, hi+1, math.MaxUint64)
	if err != nil {
		r.store.cfg.Logger.Debug("read entries a merge proved committed", "range", r.rangeID, "err", err)
		return nil
	}
	return ents
}

// persist writes every Ready's snapshot, entries and hard state: snapshots
// by ingestion, the rest in one batch synced if any Ready must sync.
func (s *Store) persist(work []*readyWork) error {
	b := s.cfg.Engine.NewBatch()
	defer b.Close()
	sync := false
	for _, w := range work {
		if w.r.isDestroyed() {
			continue // removed by an early apply
		}
		if !raft.IsEmptySnap(w.rd.Snapshot) {
			if err := w.r.ingestSnapshot(w.rd.Snapshot); err != nil {
				return err
			}
		}
		if len(w.rd.Entries) > 0 {
			if err := w.r.log.Append(b, w.rd.Entries); err != nil {
				return fmt.Errorf("range %d: append: %w", w.r.rangeID, err)
			}
		}
		if !raft.IsEmptyHardState(w.rd.HardState) {
			if err := w.r.log.SetHardState(b, w.rd.HardState); err != nil {
				return fmt.Errorf("range %d: hard state: %w", w.r.rangeID, err)
			}
		}
		sync = sync || w.rd.MustSync
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(sync); err != nil {
		return fmt.Errorf("commit raft batch: %w", err)
	}
	for _, w := range work {
		if n := len(w.rd.Entries); n > 0 {
			w.r.mu.Lock()
			w.r.persistedIndex = w.rd.Entries[n-1].GetIndex()
			w.r.mu.Unlock()
		}
	}
	return nil
}

// send hands the Ready's messages to the transport, one call per peer
// node; snapshots go out on their own streams.
func (s *Store) send(r *replica, msgs []*raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	byNode := make(map[string][]raftwire.Message)
	var order []string
	r.mu.Lock()
	for _, m := range msgs {
		if m.GetType() == raftpb.MessageType_MsgSnap {
			r.startSnapshotLocked(m)
			continue
		}
		node := r.peerNodeLocked(m.GetTo())
		if node == "" {
			continue // a replica no descriptor names yet; raft will retry
		}
		if _, ok := byNode[node]; !ok {
			order = append(order, node)
		}
		byNode[node] = append(byNode[node], raftwire.Message{RangeID: r.rangeID, Msg: m})
	}
	r.mu.Unlock()
	if s.cfg.Transport == nil {
		return
	}
	for _, node := range order {
		s.cfg.Transport.Send(node, byNode[node]...)
	}
}

// advance tells raft the Ready is handled and reports whether the range
// has more to do at once.
func (r *replica) advance(w *readyWork) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.destroyed {
		return false
	}
	if !w.noReady {
		r.rn.Advance(w.rd)
	}
	// Parked entries are retried on the next tick, not at once: the
	// replica they wait for needs its own pass first.
	return r.rn.HasReady()
}
