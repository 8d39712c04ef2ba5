package rangegroup

import (
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/rangegroup/rgpb"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
)

// applyResult is what applying a Ready's committed entries produced: the
// new applied state and the answers owed to waiters. It takes effect in
// memory only after the batch holding its writes is committed.
type applyResult struct {
	// base is the applied state the entries were applied on; state is
	// base's successor.
	base  *storagepb.AppliedState
	state *storagepb.AppliedState
	// entries counts the entries applied.
	entries int
	acks    []ack
	// removed: this replica is no longer a member of its range.
	removed bool
	// splits are ranges created by splits applied in this batch.
	splits []*splitResult
	// changes are the key changes applied, for watchers.
	changes []change
	// merged are the RHS replicas this LHS absorbed in this batch.
	merged []*replica
	// parked are the entries from one this node cannot apply yet (a
	// Merge whose RHS lags here) on; they are retried on later passes.
	parked []*raftpb.Entry
}

type ack struct {
	id     uint64
	result proposalResult
}

// apply applies the committed entries of every Ready in one unsynced batch
// and then steps the apply responses into Raft: the entries are durable in
// the Raft log, so a crash that loses the batch re-applies them on restart.
func (s *Store) apply(work []*readyWork) error {
	some := false
	for _, w := range work {
		some = some || len(w.deferred) > 0 || len(w.rd.CommittedEntries) > 0
	}
	if !some {
		return nil
	}
	b := s.cfg.Engine.NewBatch()
	defer b.Close()
	var staged []*stagedApply
	for _, w := range work {
		w.applied = nil
		ents := append(w.deferred, w.rd.CommittedEntries...)
		if len(ents) == 0 || w.r.isDestroyed() {
			continue
		}
		if st := w.r.takeStaged(ents); st != nil {
			staged = append(staged, st)
			w.applied = st.res
			continue
		}
		res, err := w.r.applyEntries(b, ents, false)
		if err != nil {
			return err
		}
		w.applied = res
	}
	if !b.Empty() {
		if err := b.Commit(false); err != nil {
			return fmt.Errorf("commit apply batch: %w", err)
		}
	}
	for _, st := range staged {
		if err := st.b.Commit(false); err != nil {
			return fmt.Errorf("commit staged apply batch: %w", err)
		}
	}
	for _, w := range work {
		if w.applied != nil {
			s.publish(w.r, w.applied)
			w.applied = nil
		}
		w.r.stepApplied(w.applyMsg.GetResponses())
	}
	return nil
}

// stepApplied tells Raft that the entries of an apply message are
// applied. While entries are parked behind a Merge (merge.go), Raft is told
// nothing: the responses wait, and are stepped, in order, once the parked
// entries are applied.
func (r *replica) stepApplied(resps []*raftpb.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.destroyed {
		return
	}
	r.parkedResps = append(r.parkedResps, resps...)
	if len(r.parked) > 0 {
		return
	}
	for _, m := range r.parkedResps {
		if err := r.rn.Step(m); err != nil {
			r.store.cfg.Logger.Debug("raft step apply response", "range", r.rangeID, "err", err)
		}
	}
	r.parkedResps = nil
}

// applyEntries stages the effects of ents in b and returns them. Ahead of
// the entries' commit (ahead is set; see stage.go), only key-value commands
// may be applied: any other entry fails with errNotStageable.
func (r *replica) applyEntries(b *storage.Batch, ents []*raftpb.Entry, ahead bool) (*applyResult, error) {
	r.mu.Lock()
	base := r.state
	r.mu.Unlock()
	if base == nil {
		return nil, fmt.Errorf("range %d: committed entries on an uninitialized replica", r.rangeID)
	}
	state := proto.Clone(base).(*storagepb.AppliedState)

	res := &applyResult{base: base, state: state}
	for i, e := range ents {
		if e.GetIndex() <= state.Index {
			continue // already applied before a restart replayed it
		}
		var err error
		switch {
		case ahead && e.GetType() != raftpb.EntryType_EntryNormal:
			err = errNotStageable
		case e.GetType() == raftpb.EntryType_EntryNormal:
			err = r.applyNormal(b, e, res, ahead)
		case e.GetType() == raftpb.EntryType_EntryConfChange:
			var cc raftpb.ConfChange
			if err = proto.Unmarshal(e.Data, &cc); err == nil {
				err = r.applyConfChange(cc.AsV2(), res)
			}
		case e.GetType() == raftpb.EntryType_EntryConfChangeV2:
			var cc raftpb.ConfChangeV2
			if err = proto.Unmarshal(e.Data, &cc); err == nil {
				err = r.applyConfChange(&cc, res)
			}
		}
		if errors.Is(err, errParked) {
			res.parked = append([]*raftpb.Entry(nil), ents[i:]...)
			break
		}
		if err != nil {
			return nil, fmt.Errorf("range %d: apply entry %d: %w", r.rangeID, e.GetIndex(), err)
		}
		state.Index, state.Term = e.GetIndex(), e.GetTerm()
		res.entries++
		if res.removed {
			break
		}
	}
	if err := b.SetAppliedState(r.rangeID, state); err != nil {
		return nil, fmt.Errorf("range %d: applied state: %w", r.rangeID, err)
	}
	return res, nil
}

// applyNormal applies one command entry. Entries that fail to decode are a
// bug on the proposer's side; they are skipped on every replica alike.
func (r *replica) applyNormal(b *storage.Batch, e *raftpb.Entry, res *applyResult, ahead bool) error {
	if len(e.Data) == 0 {
		return nil // a new leader's empty entry
	}
	var cmd rgpb.Command
	if err := proto.Unmarshal(e.Data, &cmd); err != nil {
		r.store.cfg.Logger.Error("undecodable command", "range", r.rangeID, "index", e.GetIndex(), "err", err)
		return nil
	}
	if _, kv := cmd.Op.(*rgpb.Command_Kv); ahead && !kv {
		return errNotStageable
	}
	state := res.state
	now := max(cmd.Stamp, state.Stamp)
	state.Stamp = now
	var result proposalResult
	switch op := cmd.Op.(type) {
	case *rgpb.Command_Kv:
		if state.FrozenFor != 0 {
			// Proposed before the freeze applied: refused as writes to a
			// frozen range are at proposal.
			result.err = fmt.Errorf("range %d: %w: %w", r.rangeID, ErrFrozen, ErrUnavailable)
			break
		}
		var req kvpb.Request
		if err := proto.Unmarshal(op.Kv, &req); err != nil {
			result.err = fmt.Errorf("decode request: %w", err)
			break
		}
		rev := e.GetIndex() + state.RevisionOffset
		rec := changeRecorder{Store: b, rev: rev, expired: req.GetSweep() != nil, changes: res.changes}
		resp, err := r.store.cfg.Machine.Apply(&rec, arcOf(state.Descriptor_), rev, now, &req)
		if err != nil {
			return err
		}
		res.changes = rec.changes
		result.resp = resp
	case *rgpb.Command_Split:
		split, err := r.applySplit(b, e, op.Split, state)
		if err != nil {
			return err
		}
		if split == nil {
			result.err = fmt.Errorf("split at %d: %w", op.Split.At, ErrInvalidSplit)
		} else {
			res.splits = append(res.splits, split)
		}
	case *rgpb.Command_Freeze:
		result = r.applyFreeze(e, op.Freeze, state)
	case *rgpb.Command_Merge:
		var err error
		if result, err = r.applyMerge(b, e, op.Merge, res); err != nil {
			return err
		}
	case *rgpb.Command_AbortMerge:
		result = r.applyAbortMerge(op.AbortMerge, state)
	case *rgpb.Command_Unfreeze:
		result = r.applyUnfreeze(op.Unfreeze, state)
	default:
		return nil
	}
	if cmd.Id != 0 {
		res.acks = append(res.acks, ack{cmd.Id, result})
	}
	return nil
}

// publish makes an applied batch visible: the new applied state, waiters
// answered, reads released, and removed replicas destroyed. Called after
// the apply batch is committed.
func (s *Store) publish(r *replica, res *applyResult) {
	s.metrics.appliedEntries.Add(float64(res.entries))
	for _, sp := range res.splits {
		s.startSplitRange(sp)
	}
	r.mu.Lock()
	r.parked = res.parked
	if r.state == nil || res.state.Stamp != r.state.Stamp {
		r.stampAppliedAt = time.Now()
	}
	reshaped := r.state != nil && r.state.Descriptor_.GetGeneration() != res.state.Descriptor_.GetGeneration()
	r.setStateLocked(res.state)
	// Under r.mu, so that Watch sees either the old state and these
	// events later, or the new state and the events in the history.
	s.watch.publish(r.rangeID, res.changes)
	if reshaped {
		s.watch.interrupt(r.rangeID, appliedRevision(res.state), false)
	}
	for _, a := range res.acks {
		if p, ok := r.proposals[a.id]; ok {
			delete(r.proposals, a.id)
			p.done <- a.result
		}
	}
	r.releaseReadsLocked()
	r.mu.Unlock()
	for _, m := range res.merged {
		s.retireMerged(m)
	}
	if res.removed {
		s.removeReplica(r)
	}
}
