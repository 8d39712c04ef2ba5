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

// readyWork is one range's Ready being handled by a worker. Raft runs
// with asynchronous storage writes: the Ready's local storage work comes as
// messages, split out of rd.Messages by prepare.
type readyWork struct {
	r  *replica
	rd raft.Ready
	// msgs go to peers at once; Raft holds back what must wait for the
	// local append (it rides in appendMsg's responses).
	msgs []*raftpb.Message
	// appendMsg (MsgStorageAppend) carries rd's entries, hard state and
	// snapshot, and the responses to deliver once they are durable.
	appendMsg *raftpb.Message
	// applyMsg (MsgStorageApply) carries rd.CommittedEntries, all durable
	// here, and the response to step once they are applied.
	applyMsg *raftpb.Message
	// deferred are committed entries to apply before rd.CommittedEntries:
	// those parked behind a Merge, or a merged range's own entries that a
	// Merge proved committed (see merge.go). rd may be empty.
	deferred []*raftpb.Entry
	// applied is the outcome of applying rd.CommittedEntries, published
	// once the apply batch is committed.
	applied *applyResult
}

// process is a scheduler worker's pass over a batch of ranges: step their
// inboxes and ticks, collect their Readys, write all their appends in one
// batch without waiting for its sync (the syncer does, and then delivers
// the appends' responses), send, apply in one unsynced batch, then apply
// ahead of their commit the entries just appended where that is allowed
// (stage.go), while their sync runs.
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
	if err := s.persist(work); err != nil {
		s.fatal(err)
	}
	for _, w := range work {
		s.send(w.r, w.msgs)
	}
	if err := s.apply(work); err != nil {
		s.fatal(err)
	}
	for _, w := range work {
		w.r.stage(w.rd.Entries)
	}
	var again []uint64
	for _, w := range work {
		w.r.maybeTruncate()
		if w.r.hasReady() {
			again = append(again, w.r.rangeID)
		}
	}
	s.sched.enqueueAll(again)
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
	inq := r.inboxQuiescenceLocked(inbox)
	for i := range inbox {
		m := &inbox[i]
		if m.msg.GetTo() != r.replicaID {
			continue // addressed to an earlier incarnation
		}
		if isQuiesceMessage(m.msg) && m.msg.GetType() == raftpb.MessageType_MsgHeartbeatResp {
			// Raft would read the echoed context as a read index
			// acknowledgement; the leader needs nothing from it.
			continue
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
	extra := r.tickOrQuiesceLocked(inq, ticks > 0)
	if r.appendsInFlight < maxAppendsInFlight {
		r.flushProposalsLocked()
	}
	r.issueReadIndexLocked()
	deferred := r.takeDeferredLocked()
	if !r.rn.HasReady() {
		r.rejectUnsteppedSnapshotLocked()
		if len(deferred) == 0 && len(extra) == 0 {
			return nil
		}
		return &readyWork{r: r, deferred: deferred, msgs: extra}
	}
	rd := r.rn.Ready()
	if !raft.IsEmptySnap(rd.Snapshot) {
		// The snapshot is newer than anything deferred; Raft restarts its
		// applied index from it, so held apply responses are void.
		deferred, r.parkedResps = nil, nil
	}
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
	w := &readyWork{r: r, rd: rd, deferred: deferred, msgs: extra}
	for _, m := range rd.Messages {
		switch m.GetTo() {
		case raft.LocalAppendThread:
			w.appendMsg = m
		case raft.LocalApplyThread:
			w.applyMsg = m
		default:
			w.msgs = append(w.msgs, m)
		}
	}
	return w
}

// takeDeferredLocked returns the committed entries to apply before this
// pass's own: those parked behind a Merge, or else those of this
// replica's log that a Merge proved committed (through forceApplyTo) but
// Raft has not handed over. Both are durable here: parked entries came
// from Raft, and a Merge is proposed only once every voter of the merged
// range holds its log through forceApplyTo.
func (r *replica) takeDeferredLocked() []*raftpb.Entry {
	if len(r.parked) > 0 {
		p := r.parked
		r.parked = nil
		return p
	}
	if r.state == nil || r.forceApplyTo <= r.state.Index {
		return nil
	}
	last, err := r.log.LastIndex()
	if err != nil {
		return nil
	}
	hi := min(r.forceApplyTo, last)
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

// maxAppendsInFlight is how many of a replica's appends may wait for their
// sync before its buffered proposals wait too. Proposals that arrive
// during a sync stay buffered and go to Raft together in the pass that the
// sync's delivery schedules, one append per fsync. Allowing a second
// append in flight kept the disk busier but made most writes wait for one
// fsync more, and left no room to apply ahead (stage.go): on one node and
// on three, one in flight was as fast or faster (docs/benchmarks.md).
const maxAppendsInFlight = 1

// startAppend counts an append of a live replica as in flight; it reports
// false when the replica was removed.
func (r *replica) startAppend() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.destroyed {
		return false
	}
	r.appendsInFlight++
	r.appendsFull.Store(r.appendsInFlight >= maxAppendsInFlight)
	return true
}

// persist writes every Ready's snapshot, entries and hard state: snapshots
// by ingestion, the rest in one batch. The batch is handed to the syncer
// without waiting for its sync, together with the appends' responses.
func (s *Store) persist(work []*readyWork) error {
	p := &pendingAppend{start: time.Now()}
	b := s.cfg.Engine.NewWriteBatch()
	defer b.Close()
	for _, w := range work {
		if w.appendMsg == nil {
			continue
		}
		if !w.r.startAppend() {
			continue // removed by an earlier pass's apply
		}
		p.appends = append(p.appends, appendDone{r: w.r, msg: w.appendMsg})
		if !raft.IsEmptySnap(w.rd.Snapshot) {
			// An ingested snapshot is durable at once: earlier batches
			// still waiting for their sync must not end up behind it.
			s.syncs.drain()
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
		p.sync = p.sync || w.rd.MustSync
	}
	if len(p.appends) == 0 {
		return nil
	}
	if b.Empty() {
		p.sync = false
	} else {
		s.metrics.readyBatches.Inc()
		s.metrics.batchRanges.Observe(float64(len(p.appends)))
		if p.sync {
			if err := b.CommitNoSyncWait(); err != nil {
				return fmt.Errorf("commit raft batch: %w", err)
			}
			p.b = b
		} else if err := b.Commit(false); err != nil {
			return fmt.Errorf("commit raft batch: %w", err)
		}
	}
	s.syncs.add(p)
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
		s.metrics.messagesSent.Add(float64(len(byNode[node])))
		s.cfg.Transport.Send(node, byNode[node]...)
	}
}

// hasReady reports whether the range has more to do at once.
func (r *replica) hasReady() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.destroyed && r.rn.HasReady()
}
