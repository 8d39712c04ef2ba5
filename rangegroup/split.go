package rangegroup

import (
	"context"
	"fmt"
	"math/rand/v2"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/rgpb"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
)

// splitResult is a range created by an applied split, started once the
// apply batch holding its initial state is committed.
type splitResult struct {
	lhs   *replica
	state *storagepb.AppliedState
	// existing is true when this node already had an initialized replica
	// of the new range (it got a snapshot before applying the split).
	existing bool
}

// Split divides a range at position at: the range keeps (start, at] and a
// new range with a fresh id takes (at, end], with the same replicas. No
// data moves: both halves already live in the same engine, ordered by
// position. Must be called on the leader; returns the new range's id.
func (s *Store) Split(ctx context.Context, rangeID, at uint64) (uint64, error) {
	r, err := s.replica(rangeID)
	if err != nil {
		return 0, err
	}
	if err := r.checkNotFrozen(); err != nil {
		return 0, err
	}
	r.mu.Lock()
	d := r.descriptorLocked()
	if d != nil && !validSplit(d, at) {
		r.mu.Unlock()
		return 0, fmt.Errorf("range %d (%d, %d]: split at %d: %w", rangeID, d.Start, d.End, at, ErrInvalidSplit)
	}
	r.mu.Unlock()
	newID := s.freshRangeID()
	_, err = r.propose(ctx, func(c *rgpb.Command) {
		c.Op = &rgpb.Command_Split{Split: &rgpb.Split{At: at, NewRangeId: newID}}
	})
	if err != nil {
		return 0, err
	}
	return newID, nil
}

// freshRangeID picks a random range id. Ids must be unique cluster-wide;
// 63 random bits make a collision vanishingly unlikely, and a split that
// would reuse an id this node knows is refused when applied.
func (s *Store) freshRangeID() uint64 {
	for {
		id := rand.Uint64() >> 1
		if id == 0 {
			continue
		}
		s.mu.RLock()
		_, taken := s.replicas[id]
		s.mu.RUnlock()
		if !taken {
			return id
		}
	}
}

// validSplit: at must lie inside the arc and not be its end, so both halves
// are non-empty.
func validSplit(d *storagepb.RangeDescriptor, at uint64) bool {
	return arcOf(d).Contains(at) && at != d.End
}

// applySplit narrows the descriptor in state to (start, at] and stages the
// initial state of the new range in b. It returns nil (and changes nothing)
// when the split no longer fits the range, identically on every replica.
func (r *replica) applySplit(b *storage.Batch, e *raftpb.Entry, sp *rgpb.Split, state *storagepb.AppliedState) (*splitResult, error) {
	d := state.Descriptor_
	cs, err := storage.DecodeConfState(state.ConfState)
	if err != nil {
		return nil, err
	}
	if !validSplit(d, sp.At) || sp.NewRangeId == 0 || sp.NewRangeId == d.RangeId || len(cs.VotersOutgoing) > 0 || state.FrozenFor != 0 {
		return nil, nil
	}
	lhs := proto.Clone(d).(*storagepb.RangeDescriptor)
	rhs := proto.Clone(d).(*storagepb.RangeDescriptor)
	lhs.End = sp.At
	lhs.Generation++
	rhs.RangeId = sp.NewRangeId
	rhs.Start = sp.At
	rhs.Generation = lhs.Generation
	state.Descriptor_ = lhs

	res := &splitResult{lhs: r}
	if existing, ok, err := r.store.cfg.Engine.AppliedState(sp.NewRangeId); err != nil {
		return nil, err
	} else if ok {
		// This replica lagged and already received the new range by
		// snapshot, which is newer than what the split would write.
		res.state = existing
		res.existing = true
		return res, nil
	}
	// The new range's log starts at the split's own index and term, the
	// same on every replica, so its replicas agree on their initial state;
	// a replica added later needs a snapshot.
	rhsState := &storagepb.AppliedState{
		Index:       e.GetIndex(),
		Term:        e.GetTerm(),
		ConfState:   state.ConfState,
		Stamp:       state.Stamp,
		Descriptor_: rhs,
		// The new range's revisions go on from the split's, as its log
		// does from the split's index.
		RevisionOffset: state.RevisionOffset,
	}
	hs := &raftpb.HardState{Term: proto.Uint64(e.GetTerm()), Commit: proto.Uint64(e.GetIndex())}
	// An uninitialized replica of the new range, created by a faster
	// replica's messages, may already have voted in a later term: keep its
	// term and vote so that it never votes twice.
	if log, err := r.store.cfg.Engine.RaftLog(sp.NewRangeId); err == nil {
		if prev, _, err := log.InitialState(); err == nil && prev.GetTerm() > hs.GetTerm() {
			hs.Term, hs.Vote = proto.Uint64(prev.GetTerm()), proto.Uint64(prev.GetVote())
		}
	}
	if err := storage.WriteInitialState(b, sp.NewRangeId, rhsState, hs, &storagepb.TruncatedState{Index: e.GetIndex(), Term: e.GetTerm()}); err != nil {
		return nil, err
	}
	res.state = rhsState
	return res, nil
}

// startSplitRange starts (or restarts) this node's replica of a range
// created by a split, once its initial state is committed. An uninitialized
// replica of it, created by messages, is replaced. The left-hand side's
// leader campaigns at once so that the new range gets a leader without
// waiting for an election timeout.
func (s *Store) startSplitRange(sp *splitResult) {
	d := sp.state.Descriptor_
	replicaID := replicaIDOf(d, s.cfg.NodeName)
	s.mu.Lock()
	old := s.replicas[d.RangeId]
	if old != nil {
		old.mu.Lock()
		initialized := old.state != nil
		if !initialized {
			old.destroyed = true
			old.failWaitersLocked(fmt.Errorf("range %d: replica replaced: %w", d.RangeId, ErrRangeNotFound))
		}
		old.mu.Unlock()
		if initialized {
			s.mu.Unlock()
			return
		}
	}
	r, err := s.newReplica(d.RangeId, replicaID, sp.state)
	if err != nil {
		s.mu.Unlock()
		s.fatal(err)
		return
	}
	s.replicas[d.RangeId] = r
	s.mu.Unlock()

	sp.lhs.mu.Lock()
	leader := sp.lhs.isLeaderLocked()
	sp.lhs.mu.Unlock()
	if leader {
		r.mu.Lock()
		if err := r.rn.Campaign(); err != nil {
			s.cfg.Logger.Debug("campaign after split", "range", d.RangeId, "err", err)
		}
		r.mu.Unlock()
	}
	s.sched.enqueue(d.RangeId)
}
