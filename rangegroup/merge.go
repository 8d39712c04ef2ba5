package rangegroup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/rgpb"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
)

// Merges (see the rgpb protocol comment): the RHS freezes; every RHS voter
// holds the log through the freeze; the LHS absorbs the RHS. The LHS's
// replicas apply the Merge each on its own node, which needs that node's
// RHS replica to have applied the freeze. A replica whose RHS lags parks
// the Merge and every entry after it, and has its RHS replica apply its
// log through the freeze (the entries are there, and the Merge proves
// them committed); the parked entries are applied as soon as it has.

var (
	// ErrMergeRejected: a merge step found the ranges no longer fit for
	// it (a descriptor changed, the replica sets differ, a configuration
	// change is in progress, the RHS is frozen for another merge).
	ErrMergeRejected = errors.New("merge rejected")
	// ErrFrozen: the range is frozen for a merge and takes no writes,
	// splits or replica changes; the merge completes or is undone soon.
	ErrFrozen = errors.New("range frozen for a merge")
)

// errParked stops applying at an entry this node cannot apply yet.
var errParked = errors.New("apply parked")

// freezeResult is what a Freeze told its proposer.
type freezeResult struct {
	index, revision uint64
	stamp           int64
	descriptor      *storagepb.RangeDescriptor
}

// abortResult is what an AbortMerge told its proposer.
type abortResult struct {
	merged bool
}

// Merge makes range lhsID absorb its right neighbour rhsID, which must
// start where lhsID ends and have the same voters, no learners, and no
// configuration change in progress. This node must lead both. No data
// moves: both ranges' keys already sit in each node's engine in position
// order. On success every replica of rhsID is (or soon is) deleted and
// lhsID serves both spans. A merge that fails after the RHS froze is undone
// (AbortMerge) when it is known not to have applied; when its outcome is
// unknown (ErrTimeout), the RHS stays frozen until Merge or AbortMerge is
// called again.
func (s *Store) Merge(ctx context.Context, lhsID, rhsID uint64) error {
	lhs, lhsD, err := s.mergeSide(lhsID)
	if err != nil {
		return fmt.Errorf("merge %d into %d: %w", rhsID, lhsID, err)
	}
	rhs, rhsD, err := s.mergeSide(rhsID)
	if err != nil {
		return fmt.Errorf("merge %d into %d: %w", rhsID, lhsID, err)
	}
	if lhsD.End != rhsD.Start || lhsD.RangeId == rhsD.RangeId || !slices.Equal(lhsD.VoterNodes(), rhsD.VoterNodes()) {
		return fmt.Errorf("merge %d into %d: not adjacent ranges with the same voters: %w", rhsID, lhsID, ErrMergeRejected)
	}
	res, err := rhs.propose(ctx, func(c *rgpb.Command) {
		c.Op = &rgpb.Command_Freeze{Freeze: &rgpb.Freeze{LhsRangeId: lhsID, RhsGeneration: rhsD.Generation, Voters: rhsD.VoterNodes()}}
	})
	if err != nil {
		return fmt.Errorf("merge %d into %d: freeze: %w", rhsID, lhsID, err)
	}
	fr := res.(*freezeResult)
	if err := rhs.awaitLogs(ctx, fr.index); err != nil {
		return s.undoMerge(lhsID, rhsID, fmt.Errorf("merge %d into %d: %w", rhsID, lhsID, err))
	}
	desc, err := proto.Marshal(fr.descriptor)
	if err != nil {
		return err
	}
	_, err = lhs.propose(ctx, func(c *rgpb.Command) {
		c.Op = &rgpb.Command_Merge{Merge: &rgpb.Merge{
			RhsDescriptor: desc, FreezeIndex: fr.index, RhsRevision: fr.revision,
			LhsGeneration: lhsD.Generation, RhsStamp: fr.stamp,
		}}
	})
	if err != nil {
		err = fmt.Errorf("merge %d into %d: %w", rhsID, lhsID, err)
		if errors.Is(err, ErrMergeRejected) {
			return s.undoMerge(lhsID, rhsID, err)
		}
		return err
	}
	s.metrics.merges.Inc()
	return nil
}

// undoMerge gives up a merge whose RHS may be frozen, reporting cause.
func (s *Store) undoMerge(lhsID, rhsID uint64, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*s.cfg.electionTimeout())
	defer cancel()
	if err := s.AbortMerge(ctx, lhsID, rhsID); err != nil {
		return errors.Join(cause, fmt.Errorf("undo: %w", err))
	}
	return cause
}

// AbortMerge undoes a merge of rhsID into lhsID that has not happened: it
// moves lhsID's generation on, so that no Merge still in flight can apply,
// and then unfreezes rhsID, unless the LHS had already absorbed it. This
// node must lead lhsID, and rhsID unless it was merged.
func (s *Store) AbortMerge(ctx context.Context, lhsID, rhsID uint64) error {
	lhs, err := s.replica(lhsID)
	if err != nil {
		return err
	}
	rhs, err := s.replica(rhsID)
	if err != nil {
		return err
	}
	rhs.mu.Lock()
	d := rhs.descriptorLocked()
	rhs.mu.Unlock()
	if d == nil {
		return fmt.Errorf("range %d: %w", rhsID, ErrRangeNotFound)
	}
	res, err := lhs.propose(ctx, func(c *rgpb.Command) {
		c.Op = &rgpb.Command_AbortMerge{AbortMerge: &rgpb.AbortMerge{RhsRangeId: rhsID, RhsStart: d.Start}}
	})
	if err != nil {
		return fmt.Errorf("abort merge of %d into %d: %w", rhsID, lhsID, err)
	}
	if res.(*abortResult).merged {
		return nil
	}
	_, err = rhs.propose(ctx, func(c *rgpb.Command) {
		c.Op = &rgpb.Command_Unfreeze{Unfreeze: &rgpb.Unfreeze{LhsRangeId: lhsID}}
	})
	if err != nil {
		return fmt.Errorf("unfreeze %d: %w", rhsID, err)
	}
	return nil
}

// mergeSide checks that this node leads rangeID and that the range can take
// part in a merge, and returns its replica and descriptor.
func (s *Store) mergeSide(rangeID uint64) (*replica, *storagepb.RangeDescriptor, error) {
	r, err := s.lockLeader(rangeID)
	if err != nil {
		return nil, nil, err
	}
	defer r.mu.Unlock()
	d := r.descriptorLocked()
	if d == nil {
		return nil, nil, fmt.Errorf("range %d: not initialized: %w", rangeID, ErrUnavailable)
	}
	if !mergeableConfig(d, r.confState) {
		return nil, nil, fmt.Errorf("range %d: has learners or a configuration change in progress: %w", rangeID, ErrMergeRejected)
	}
	return r, proto.Clone(d).(*storagepb.RangeDescriptor), nil
}

// mergeableConfig: only voters, and no joint configuration.
func mergeableConfig(d *storagepb.RangeDescriptor, cs *raftpb.ConfState) bool {
	for _, rd := range d.Replicas {
		if rd.Type != storagepb.ReplicaType_VOTER {
			return false
		}
	}
	return len(cs.GetVotersOutgoing()) == 0 && len(cs.GetLearners()) == 0 && len(cs.GetLearnersNext()) == 0
}

// awaitLogs waits until every voter of the range (led here) holds its log
// through index.
func (r *replica) awaitLogs(ctx context.Context, index uint64) error {
	for {
		r.mu.Lock()
		done, lead := true, r.isLeaderLocked()
		if lead {
			r.rn.WithProgress(func(id uint64, t raft.ProgressType, pr tracker.Progress) {
				if !pr.IsLearner && pr.Match < index {
					done = false
				}
			})
		}
		r.mu.Unlock()
		switch {
		case !lead:
			return fmt.Errorf("range %d: lost leadership while waiting for voters: %w", r.rangeID, ErrUnavailable)
		case done:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("range %d: voters do not hold the log through %d: %w", r.rangeID, index, ctxErr(ctx))
		case <-time.After(r.store.cfg.TickInterval):
		}
	}
}

// applyFreeze freezes the RHS if it still matches the Freeze.
func (r *replica) applyFreeze(e *raftpb.Entry, f *rgpb.Freeze, state *storagepb.AppliedState) proposalResult {
	d := state.Descriptor_
	cs, err := storage.DecodeConfState(state.ConfState)
	switch {
	case err != nil:
		return proposalResult{err: err}
	case state.FrozenFor != 0 && state.FrozenFor != f.LhsRangeId:
		return proposalResult{err: fmt.Errorf("range %d is frozen for range %d: %w", r.rangeID, state.FrozenFor, ErrMergeRejected)}
	case d.Generation != f.RhsGeneration || !slices.Equal(d.VoterNodes(), f.Voters) || !mergeableConfig(d, cs):
		return proposalResult{err: fmt.Errorf("range %d changed since the merge was planned: %w", r.rangeID, ErrMergeRejected)}
	}
	state.FrozenFor = f.LhsRangeId
	return proposalResult{resp: &freezeResult{
		index:      e.GetIndex(),
		revision:   e.GetIndex() + state.RevisionOffset,
		stamp:      state.Stamp,
		descriptor: proto.Clone(d).(*storagepb.RangeDescriptor),
	}}
}

// applyMerge absorbs the RHS into this LHS replica. It returns errParked
// when this node's RHS replica has not applied the freeze yet, and a result
// wrapping ErrMergeRejected when the merge no longer fits.
func (r *replica) applyMerge(b *storage.Batch, e *raftpb.Entry, m *rgpb.Merge, res *applyResult) (proposalResult, error) {
	state := res.state
	lhsD := state.Descriptor_
	var rhsD storagepb.RangeDescriptor
	if err := proto.Unmarshal(m.RhsDescriptor, &rhsD); err != nil {
		return proposalResult{err: fmt.Errorf("decode merge descriptor: %w", err)}, nil
	}
	cs, err := storage.DecodeConfState(state.ConfState)
	if err != nil {
		return proposalResult{}, err
	}
	if lhsD.Generation != m.LhsGeneration || lhsD.End != rhsD.Start || state.FrozenFor != 0 ||
		!slices.Equal(lhsD.VoterNodes(), rhsD.VoterNodes()) || !mergeableConfig(lhsD, cs) {
		return proposalResult{err: fmt.Errorf("range %d changed since the merge was planned: %w", r.rangeID, ErrMergeRejected)}, nil
	}
	rhs, err := r.store.replica(rhsD.RangeId)
	if err != nil {
		return proposalResult{}, r.store.parkFor(rhsD.RangeId, m.FreezeIndex)
	}
	rhs.mu.Lock()
	ready := rhs.state != nil && !rhs.destroyed && rhs.state.FrozenFor == r.rangeID && rhs.state.Index >= m.FreezeIndex
	if ready {
		// From here on nothing may change the RHS on this node: its
		// span and data now belong to the LHS.
		rhs.destroyed = true
		res.merged = append(res.merged, rhs)
	}
	rhs.mu.Unlock()
	if !ready {
		return proposalResult{}, r.store.parkFor(rhsD.RangeId, m.FreezeIndex)
	}

	merged := proto.Clone(lhsD).(*storagepb.RangeDescriptor)
	merged.End = rhsD.End
	merged.Generation = max(lhsD.Generation, rhsD.Generation) + 1
	state.Descriptor_ = merged
	state.Stamp = max(state.Stamp, m.RhsStamp)
	// This entry's revision must exceed every revision the RHS gave out.
	if rev := e.GetIndex() + state.RevisionOffset; rev <= m.RhsRevision {
		state.RevisionOffset += m.RhsRevision - rev + 1
	}
	span := storage.RangeLocalSpan(rhsD.RangeId)
	if err := b.DeleteRange(span.Start, span.End); err != nil {
		return proposalResult{}, fmt.Errorf("delete merged range %d: %w", rhsD.RangeId, err)
	}
	return proposalResult{}, nil
}

// parkFor has this node's replica of rangeID apply its log through index
// (the Merge being parked proves those entries committed) and reports
// errParked.
func (s *Store) parkFor(rangeID, index uint64) error {
	s.metrics.mergeParks.Inc()
	if r, err := s.replica(rangeID); err == nil {
		r.mu.Lock()
		r.forceApplyTo = max(r.forceApplyTo, index)
		r.mu.Unlock()
		s.sched.enqueue(rangeID)
	}
	return errParked
}

// applyAbortMerge moves the LHS's generation on, so that Merges planned
// against the old one fail, and reports whether the RHS was already merged.
func (r *replica) applyAbortMerge(a *rgpb.AbortMerge, state *storagepb.AppliedState) proposalResult {
	d := proto.Clone(state.Descriptor_).(*storagepb.RangeDescriptor)
	merged := d.End != a.RhsStart
	d.Generation++
	state.Descriptor_ = d
	return proposalResult{resp: &abortResult{merged: merged}}
}

// applyUnfreeze lets a frozen RHS take writes again.
func (r *replica) applyUnfreeze(u *rgpb.Unfreeze, state *storagepb.AppliedState) proposalResult {
	if state.FrozenFor != u.LhsRangeId {
		return proposalResult{err: fmt.Errorf("range %d is not frozen for range %d: %w", r.rangeID, u.LhsRangeId, ErrMergeRejected)}
	}
	state.FrozenFor = 0
	return proposalResult{}
}

// subsumedBy lists this node's live replicas, other than rangeID, that
// overlap d: blocked is false when every one of them lies within d and is
// older, so that d is the range they were merged into.
func (s *Store) subsumedBy(rangeID uint64, d *storagepb.RangeDescriptor) (subsumed []*replica, blocked bool) {
	outer := arcOf(d)
	for r, od := range s.liveOverlapping(rangeID, outer) {
		if od.Generation >= d.Generation || !arcWithin(arcOf(od), outer) {
			return nil, true
		}
		subsumed = append(subsumed, r)
	}
	return subsumed, false
}

// arcWithin reports whether every position of inner lies in outer.
func arcWithin(inner, outer kv.Arc) bool {
	switch {
	case outer.Start == outer.End:
		return true
	case inner.Start == inner.End:
		return false
	}
	// Clockwise distances from outer's start (unsigned arithmetic wraps).
	s, e, o := inner.Start-outer.Start, inner.End-outer.Start, outer.End-outer.Start
	return s < e && e <= o
}

// retireSubsumed deletes the range-local state of a replica whose span a
// newer range's snapshot took over, and forgets it.
func (s *Store) retireSubsumed(r *replica) error {
	r.mu.Lock()
	r.destroyed = true
	r.mu.Unlock()
	b := s.cfg.Engine.NewBatch()
	defer b.Close()
	span := storage.RangeLocalSpan(r.rangeID)
	if err := b.DeleteRange(span.Start, span.End); err != nil {
		return fmt.Errorf("range %d: delete subsumed range: %w", r.rangeID, err)
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("range %d: delete subsumed range: %w", r.rangeID, err)
	}
	s.retireMerged(r)
	return nil
}

// retireMerged forgets an RHS replica whose LHS absorbed it here: its
// range-local state was deleted with the merge's apply batch, and its data
// is the LHS's now.
func (s *Store) retireMerged(r *replica) {
	r.mu.Lock()
	r.failWaitersLocked(fmt.Errorf("range %d: merged into its left neighbour: %w", r.rangeID, ErrRangeNotFound))
	s.watch.interrupt(r.rangeID, appliedRevision(r.state), true)
	r.mu.Unlock()
	s.mu.Lock()
	if s.replicas[r.rangeID] == r {
		delete(s.replicas, r.rangeID)
	}
	s.mu.Unlock()
	s.cfg.Logger.Info("range merged away", "range", r.rangeID)
}
