package rebalance

import (
	"github.com/concord-kv/concord/rangegroup"
)

// rangeAction is one planned action and the range view it was planned on.
type rangeAction struct {
	info   rangegroup.RangeInfo
	action Action
}

// passPlan is what one pass over this node's ranges decided.
type passPlan struct {
	// actions are the non-None actions, at most one per range.
	actions []rangeAction
	// led counts the initialized ranges this node leads.
	led int
	// outOfPlacement counts led ranges that do not satisfy InPlacement.
	outOfPlacement int
	// snapshots counts learners being caught up by this node's leaders
	// when the pass began.
	snapshots int
}

// planPass plans one pass: Plan for every range this node leads, in range
// id order, except those held (waiting for a change to settle). It is the
// only place the node-wide snapshot cap is accounted: learners catching up
// in led ranges, plus cfg.SnapshotsInFlight (additions still being
// proposed), plus learners added by earlier ranges of the pass.
func planPass(infos []rangegroup.RangeInfo, members []Member, cfg PlanConfig, held func(rangegroup.RangeInfo) bool) passPlan {
	cfg = cfg.withDefaults()
	ms := newMemberSet(members, cfg)
	var pp passPlan
	var led []*planState
	for _, info := range infos {
		if !info.IsLeader || info.Descriptor == nil {
			continue
		}
		p := newPlanState(info, ms, cfg)
		led = append(led, p)
		pp.snapshots += p.snapshots()
	}
	pp.led = len(led)
	inFlight := pp.snapshots + cfg.SnapshotsInFlight
	skip := make(map[*planState]bool)
	for _, p := range led {
		if !p.inPlacement() {
			pp.outOfPlacement++
		}
		if held != nil && held(p.info) {
			skip[p] = true
			continue
		}
		if p.info.FrozenFor != 0 {
			// A frozen range changes nothing until its merge completes
			// or is undone, which planMerges decides.
			continue
		}
		p.cfg.SnapshotsInFlight = inFlight
		a := p.plan()
		if a.Kind == None {
			continue
		}
		skip[p] = true
		if a.Kind == AddLearner {
			inFlight++
		}
		pp.actions = append(pp.actions, rangeAction{info: p.info, action: a})
	}
	leaders := make(map[uint64]string, len(infos))
	for _, info := range infos {
		leaders[info.RangeID] = info.Leader
	}
	pp.actions = append(pp.actions, planMerges(led, func(p *planState) bool { return skip[p] }, leaders)...)
	return pp
}

// snapshots counts the learners of the range that take a snapshot slot
// (planState.catchingUp).
func (p *planState) snapshots() int {
	n := 0
	for _, rd := range p.d.Replicas {
		if p.catchingUp(rd) {
			n++
		}
	}
	return n
}
