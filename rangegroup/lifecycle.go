package rangegroup

import (
	"github.com/concord-kv/concord/transport/raftwire"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"

	"context"
	"fmt"
	"time"
)

// maybeTruncate drops applied log entries this replica no longer needs. It
// keeps Config.RaftLogKeep entries behind the applied index, and a leader
// also keeps what recently active followers have not yet acknowledged; a
// follower that was silent longer is left to catch up by snapshot.
// Truncation is local to each replica and happens in steps of at least
// half of RaftLogKeep so that it does not cost a write per apply.
func (r *replica) maybeTruncate() {
	keep := r.store.cfg.RaftLogKeep
	r.mu.Lock()
	if r.destroyed || r.state == nil {
		r.mu.Unlock()
		return
	}
	target := clampSub(r.state.Index, keep)
	if r.isLeaderLocked() {
		r.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
			if id != r.replicaID && pr.RecentActive && pr.Match < target {
				target = pr.Match
			}
		})
	}
	if target <= r.truncatedTo || target-r.truncatedTo < max(keep/2, 1) {
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()

	b := r.store.cfg.Engine.NewBatch()
	defer b.Close()
	if err := r.log.Truncate(b, target); err != nil {
		r.store.cfg.Logger.Warn("truncate raft log", "range", r.rangeID, "index", target, "err", err)
		return
	}
	// Unsynced: a lost truncation only leaves entries behind, and Pebble's
	// log replays a prefix, so it can never survive without the applied
	// state it depends on.
	if err := b.Commit(false); err != nil {
		r.store.fatal(fmt.Errorf("range %d: truncate: %w", r.rangeID, err))
	}
	r.mu.Lock()
	r.truncatedTo = target
	r.mu.Unlock()
	r.store.metrics.truncations.Inc()
}

// removeReplica destroys a replica that is no longer a member of its range:
// its waiters fail, its data is deleted.
func (s *Store) removeReplica(r *replica) {
	r.mu.Lock()
	if r.destroyed {
		r.mu.Unlock()
		return
	}
	r.destroyed = true
	d := r.descriptorLocked()
	s.watch.interrupt(r.rangeID, appliedRevision(r.state), true)
	r.failWaitersLocked(fmt.Errorf("range %d: replica removed: %w", r.rangeID, ErrRangeNotFound))
	if in := r.snapshotIn; in != nil {
		r.snapshotIn = nil
		in.writer.Abort()
		in.done <- fmt.Errorf("range %d: replica removed: %w", r.rangeID, ErrSnapshotRejected)
	}
	r.mu.Unlock()
	// Delete the data before forgetting the replica: until then messages
	// for the range still reach this (destroyed, inert) replica, so no new
	// one can open the range's log while it is being deleted.
	if err := s.destroyStored(r.rangeID, d); err != nil {
		s.fatal(err)
	}
	s.mu.Lock()
	if s.replicas[r.rangeID] == r {
		delete(s.replicas, r.rangeID)
	}
	s.mu.Unlock()
	s.cfg.Logger.Info("replica removed", "range", r.rangeID, "replica", r.replicaID)
}

// collectUninitialized removes replicas that were created by a message but
// never received a snapshot: they are left over from a range this node was
// briefly a target of, or a removed replica's stale traffic.
func (s *Store) collectUninitialized(olderThan time.Duration) {
	now := time.Now()
	for _, r := range s.replicaList() {
		r.mu.Lock()
		stale := r.state == nil && r.snapshotIn == nil && !r.createdAt.IsZero() && now.Sub(r.createdAt) > olderThan
		r.mu.Unlock()
		if stale {
			s.removeReplica(r)
			s.metrics.collected.Inc()
		}
	}
}

// TransferLeadership asks the leader of a range to hand leadership to the
// replica on node, and waits until some leader change is observed here or
// ctx ends.
func (s *Store) TransferLeadership(ctx context.Context, rangeID uint64, node string) error {
	r, err := s.lockLeader(rangeID)
	if err != nil {
		return err
	}
	id := replicaIDOf(r.descriptorLocked(), node)
	if id == 0 {
		r.mu.Unlock()
		return fmt.Errorf("range %d: node %s has no replica: %w", rangeID, node, ErrInvalidChange)
	}
	if id == r.replicaID {
		r.mu.Unlock()
		return nil
	}
	r.rn.TransferLeader(id)
	// Raft abandons a transfer the target cannot complete (it has not
	// applied a configuration change, say) after an election timeout; it
	// then stays leader with no transfer pending, so poll for that too.
	check := time.NewTicker(s.cfg.electionTimeout())
	defer check.Stop()
	for {
		changed := r.leaderChanged
		r.mu.Unlock()
		s.sched.enqueue(rangeID)
		select {
		case <-changed:
		case <-check.C:
		case <-ctx.Done():
			return fmt.Errorf("range %d: transfer leadership: %w", rangeID, ctxErr(ctx))
		}
		r.mu.Lock()
		if r.leaderID == id {
			r.mu.Unlock()
			return nil
		}
		if r.leaderID != 0 && r.leaderID != r.replicaID {
			r.mu.Unlock()
			return fmt.Errorf("range %d: leadership went to replica %d, not %d: %w", rangeID, r.leaderID, id, ErrUnavailable)
		}
		if r.destroyed {
			r.mu.Unlock()
			return fmt.Errorf("range %d: %w", rangeID, ErrRangeNotFound)
		}
		if r.isLeaderLocked() && r.rn.BasicStatus().LeadTransferee == 0 {
			r.mu.Unlock()
			return fmt.Errorf("range %d: raft abandoned the transfer to replica %d: %w", rangeID, id, ErrUnavailable)
		}
	}
}

// superseded reports whether the replica has been replaced by a newer
// incarnation on this node.
func (r *replica) superseded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.supersededBy != 0 && !r.destroyed
}

// replaceIncarnation destroys a replica that messages for a higher replica
// id have shown to be removed, and hands those messages to a new,
// uninitialized replica, which catches up by snapshot. Only the worker that
// owns the range calls it, so nothing else persists for the old one.
func (s *Store) replaceIncarnation(r *replica) {
	r.mu.Lock()
	pending := r.supersededInbox
	r.supersededInbox = nil
	newID := r.supersededBy
	r.mu.Unlock()
	s.removeReplica(r)
	s.cfg.Logger.Info("replica superseded", "range", r.rangeID, "old", r.replicaID, "new", newID)
	var msgs []raftwire.Message
	from := ""
	for _, m := range pending {
		if m.msg.GetTo() == newID {
			msgs = append(msgs, raftwire.Message{RangeID: r.rangeID, Msg: m.msg})
			from = m.from
		}
	}
	if len(msgs) > 0 {
		s.HandleMessages(from, msgs)
	}
}
