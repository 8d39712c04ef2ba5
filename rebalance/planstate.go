package rebalance

import (
	"fmt"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/storage/storagepb"
)

// memberSet is the members as placement sees them at one instant,
// computed once per pass and shared by every range's planState.
type memberSet struct {
	present []Member          // present members by ring id
	byName  map[string]Member // present members by name
}

func newMemberSet(members []Member, cfg PlanConfig) memberSet {
	ms := memberSet{present: presentMembers(members, cfg.Now, cfg.Grace), byName: make(map[string]Member)}
	for _, m := range ms.present {
		ms.byName[m.Name] = m
	}
	return ms
}

// planState is one led range seen against the placement rule.
type planState struct {
	cfg     PlanConfig
	info    rangegroup.RangeInfo
	d       *storagepb.RangeDescriptor
	present []Member          // present members by ring id
	member  map[string]Member // present members by name
	wanted  []Member          // the placement; wanted[0] is the preferred leader
	isWant  map[string]bool
	replica map[string]*storagepb.ReplicaDescriptor // by node
	voters  int
	waiting []string
}

// newPlanState needs a range this node leads, with a descriptor.
func newPlanState(info rangegroup.RangeInfo, ms memberSet, cfg PlanConfig) *planState {
	p := &planState{
		cfg:     cfg,
		info:    info,
		d:       info.Descriptor,
		present: ms.present,
		member:  ms.byName,
		isWant:  make(map[string]bool),
		replica: make(map[string]*storagepb.ReplicaDescriptor),
	}
	p.wanted = placementOf(p.d.End, p.present, cfg.Replicas)
	for _, m := range p.wanted {
		p.isWant[m.Name] = true
	}
	for _, rd := range p.d.Replicas {
		p.replica[rd.Node] = rd
		if rd.Type == storagepb.ReplicaType_VOTER {
			p.voters++
		}
	}
	return p
}

func (p *planState) wait(format string, args ...any) {
	p.waiting = append(p.waiting, fmt.Sprintf(format, args...))
}

// alive reports whether gossip says node is up (not merely within grace).
func (p *planState) alive(node string) bool { return p.member[node].Alive }

// caughtUp reports whether the leader sees the replica holding the log up
// to within CatchUpLag of the commit index. The leader itself always is.
func (p *planState) caughtUp(rd *storagepb.ReplicaDescriptor) bool {
	if rd.Node == p.cfg.Self {
		return true
	}
	pr, ok := p.info.Progress[rd.ReplicaId]
	return ok && pr.CaughtUp(p.info.CommitIndex, p.cfg.CatchUpLag)
}

// isVoter and isLearner look up node's replica by type.
func (p *planState) isVoter(node string) bool {
	rd := p.replica[node]
	return rd != nil && rd.Type == storagepb.ReplicaType_VOTER
}

func (p *planState) isLearner(node string) bool {
	rd := p.replica[node]
	return rd != nil && rd.Type == storagepb.ReplicaType_LEARNER
}

// catchingUp reports whether a learner occupies a snapshot slot: it is on a
// live node and has not caught up. A learner on a dead node is not being
// caught up; it is removed once its node stops counting.
func (p *planState) catchingUp(rd *storagepb.ReplicaDescriptor) bool {
	return rd.Type == storagepb.ReplicaType_LEARNER && p.alive(rd.Node) && !p.caughtUp(rd)
}
