package rangegroup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/rgpb"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
)

// ChangeType is one kind of replica change.
type ChangeType int

const (
	// AddLearner adds a non-voting replica on a node; it catches up by
	// snapshot.
	AddLearner ChangeType = iota + 1
	// PromoteLearner makes a node's learner a voter.
	PromoteLearner
	// RemoveReplica removes a node's replica; the node deletes its data.
	RemoveReplica
)

// ReplicaChange is one change to a range's replica set.
type ReplicaChange struct {
	Type ChangeType
	Node string
}

// ChangeReplicas applies changes to a range's replica set through Raft and
// returns once the change is applied on the leader. Several changes go in
// one ConfChangeV2; when that alters more than one voter Raft passes through
// a joint configuration, which it leaves on its own. Must be called on the
// leader.
func (s *Store) ChangeReplicas(ctx context.Context, rangeID uint64, changes []ReplicaChange) error {
	r, err := s.lockLeader(rangeID)
	if err != nil {
		return err
	}
	if r.state != nil && r.state.FrozenFor != 0 {
		r.mu.Unlock()
		return fmt.Errorf("range %d: %w: %w", rangeID, ErrFrozen, ErrUnavailable)
	}
	id := s.proposalID()
	cc, err := buildConfChange(r.descriptorLocked(), changes, id)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("range %d: %w", rangeID, err)
	}
	p := &proposal{done: make(chan proposalResult, 1)}
	r.proposals[id] = p
	if err := r.proposeConfChangeLocked(cc); err != nil {
		delete(r.proposals, id)
		r.mu.Unlock()
		s.sched.enqueue(rangeID) // Raft may have put an empty entry in its place
		return fmt.Errorf("range %d: propose replica change: %w: %w", rangeID, ErrUnavailable, err)
	}
	r.mu.Unlock()
	s.sched.enqueue(rangeID)
	_, err = r.wait(ctx, id, p)
	return err
}

// proposeConfChangeLocked proposes cc to Raft. It steps the proposal by
// hand rather than through ProposeConfChange: Raft refuses a change while
// another is pending (a new leader's first entries not yet applied, a joint
// configuration not yet left) by replacing it, in the message, with an
// empty entry, and reports no error. Seen here, the refusal is returned
// (errConfChangePending) for the caller to retry; unseen, the caller would
// wait for an answer that never comes.
func (r *replica) proposeConfChangeLocked(cc *raftpb.ConfChangeV2) error {
	typ, data, err := raftpb.MarshalConfChange(cc)
	if err != nil {
		return err
	}
	msg := &raftpb.Message{Type: raftpb.MessageType_MsgProp.Enum(), Entries: []*raftpb.Entry{{Type: typ.Enum(), Data: data}}}
	if err := r.rn.Step(msg); err != nil {
		return err
	}
	if msg.Entries[0].GetType() != typ {
		return errConfChangePending
	}
	return nil
}

// errConfChangePending: Raft refused a replica change because an earlier
// one is not applied yet.
var errConfChangePending = errors.New("an earlier replica change is not applied yet")

// buildConfChange turns changes into a ConfChangeV2 whose context carries
// the proposal id and the descriptors of the replicas it adds.
func buildConfChange(d *storagepb.RangeDescriptor, changes []ReplicaChange, id uint64) (*raftpb.ConfChangeV2, error) {
	cc := &raftpb.ConfChangeV2{}
	cctx := &rgpb.ConfChangeContext{Id: id}
	next := max(d.GetNextReplicaId(), maxReplicaID(d)+1)
	for _, c := range changes {
		existing := replicaIDOf(d, c.Node)
		switch c.Type {
		case AddLearner:
			if existing != 0 {
				return nil, fmt.Errorf("node %s already has replica %d: %w", c.Node, existing, ErrInvalidChange)
			}
			rd := &storagepb.ReplicaDescriptor{Node: c.Node, ReplicaId: next, Type: storagepb.ReplicaType_LEARNER}
			next++
			b, err := proto.Marshal(rd)
			if err != nil {
				return nil, err
			}
			cctx.Replicas = append(cctx.Replicas, b)
			cc.Changes = append(cc.Changes, confChange(raftpb.ConfChangeType_ConfChangeAddLearnerNode, rd.ReplicaId))
		case PromoteLearner:
			if existing == 0 || typeOf(d, existing) != storagepb.ReplicaType_LEARNER {
				return nil, fmt.Errorf("node %s has no learner: %w", c.Node, ErrInvalidChange)
			}
			cc.Changes = append(cc.Changes, confChange(raftpb.ConfChangeType_ConfChangeAddNode, existing))
		case RemoveReplica:
			if existing == 0 {
				return nil, fmt.Errorf("node %s has no replica: %w", c.Node, ErrInvalidChange)
			}
			cc.Changes = append(cc.Changes, confChange(raftpb.ConfChangeType_ConfChangeRemoveNode, existing))
		default:
			return nil, fmt.Errorf("unknown change type %d: %w", c.Type, ErrInvalidChange)
		}
	}
	if len(cc.Changes) == 0 {
		return nil, fmt.Errorf("no changes: %w", ErrInvalidChange)
	}
	var err error
	if cc.Context, err = proto.Marshal(cctx); err != nil {
		return nil, err
	}
	return cc, nil
}

func confChange(t raftpb.ConfChangeType, id uint64) *raftpb.ConfChangeSingle {
	return &raftpb.ConfChangeSingle{Type: t.Enum(), NodeId: proto.Uint64(id)}
}

func maxReplicaID(d *storagepb.RangeDescriptor) uint64 {
	var m uint64
	for _, rd := range d.GetReplicas() {
		m = max(m, rd.ReplicaId)
	}
	return m
}

func typeOf(d *storagepb.RangeDescriptor, id uint64) storagepb.ReplicaType {
	for _, rd := range d.GetReplicas() {
		if rd.ReplicaId == id {
			return rd.Type
		}
	}
	return storagepb.ReplicaType_VOTER
}

// applyConfChange applies a committed configuration change to Raft and to
// the descriptor in res.state.
func (r *replica) applyConfChange(cc *raftpb.ConfChangeV2, res *applyResult) error {
	var cctx rgpb.ConfChangeContext
	if len(cc.Context) > 0 {
		if err := proto.Unmarshal(cc.Context, &cctx); err != nil {
			return fmt.Errorf("decode conf change context: %w", err)
		}
	}
	if res.state.FrozenFor != 0 {
		// A change committed after the freeze: Raft must still be told of
		// the entry, but as a change of replica 0, which it ignores.
		r.mu.Lock()
		r.confState = r.rn.ApplyConfChange(&raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{confChange(raftpb.ConfChangeType_ConfChangeAddNode, 0)}})
		r.mu.Unlock()
		if cctx.Id != 0 {
			res.acks = append(res.acks, ack{cctx.Id, proposalResult{err: fmt.Errorf("range %d: %w", r.rangeID, ErrFrozen)}})
		}
		return nil
	}
	r.mu.Lock()
	cs := r.rn.ApplyConfChange(cc)
	r.confState = cs
	r.mu.Unlock()

	state := res.state
	csb, err := storage.EncodeConfState(cs)
	if err != nil {
		return err
	}
	state.ConfState = csb
	d := proto.Clone(state.Descriptor_).(*storagepb.RangeDescriptor)
	names := make(map[uint64]string)
	for _, rd := range d.Replicas {
		names[rd.ReplicaId] = rd.Node
	}
	for _, b := range cctx.Replicas {
		var rd storagepb.ReplicaDescriptor
		if err := proto.Unmarshal(b, &rd); err != nil {
			return fmt.Errorf("decode added replica: %w", err)
		}
		names[rd.ReplicaId] = rd.Node
		d.NextReplicaId = max(d.NextReplicaId, rd.ReplicaId+1)
	}
	// The descriptor lists every replica of the configuration, voters of
	// either half of a joint configuration first.
	var replicas []*storagepb.ReplicaDescriptor
	seen := make(map[uint64]bool)
	add := func(ids []uint64, t storagepb.ReplicaType) {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				replicas = append(replicas, &storagepb.ReplicaDescriptor{Node: names[id], ReplicaId: id, Type: t})
			}
		}
	}
	add(cs.Voters, storagepb.ReplicaType_VOTER)
	add(cs.VotersOutgoing, storagepb.ReplicaType_VOTER)
	add(cs.Learners, storagepb.ReplicaType_LEARNER)
	add(cs.LearnersNext, storagepb.ReplicaType_LEARNER)
	slices.SortFunc(replicas, func(a, b *storagepb.ReplicaDescriptor) int { return cmp.Compare(a.ReplicaId, b.ReplicaId) })
	d.Replicas = replicas
	d.Generation++
	state.Descriptor_ = d
	if !seen[r.replicaID] {
		res.removed = true
	}
	if cctx.Id != 0 {
		res.acks = append(res.acks, ack{cctx.Id, proposalResult{}})
	}
	return nil
}
