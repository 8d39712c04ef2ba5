package rebalance

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage/storagepb"
)

// The rules of Plan, in the order Plan applies them (see rules in
// plan.go). Each reads one planState.

// split: (1) a present member's id strictly inside (start, end) must
// become a range boundary. The one nearest the start goes first, so one
// range is cut into consecutive pieces.
func (p *planState) split() (Action, bool) {
	at, found := splitPoint(p.d.Start, p.d.End, p.present)
	if !found {
		return Action{}, false
	}
	return Action{Kind: Split, At: at, Reason: fmt.Sprintf("a member's id lies inside (%d, %d]", p.d.Start, p.d.End)}, true
}

// splitPoint returns the present member id strictly inside the arc
// (start, end] (not end itself) nearest start clockwise.
func splitPoint(start, end uint64, present []Member) (uint64, bool) {
	arc := kv.Arc{Start: start, End: end}
	var best uint64
	found := false
	for _, m := range present {
		if m.ID == end || !arc.Contains(m.ID) {
			continue
		}
		// Unsigned subtraction is the clockwise distance from start.
		if !found || m.ID-start < best-start {
			best, found = m.ID, true
		}
	}
	return best, found
}

// addLearner: (2) a wanted node without a replica gets a learner, one
// range step at a time and within the node-wide snapshot cap.
func (p *planState) addLearner() (Action, bool) {
	var missing []Member
	for _, m := range p.wanted {
		if p.replica[m.Name] == nil {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		return Action{}, false
	}
	for _, rd := range p.d.Replicas {
		if p.isWant[rd.Node] && p.catchingUp(rd) {
			p.wait("learner on %s is catching up", rd.Node)
			return Action{}, false
		}
	}
	if p.cfg.SnapshotsInFlight >= p.cfg.MaxSnapshots {
		p.wait("snapshot cap reached (%d in flight)", p.cfg.SnapshotsInFlight)
		return Action{}, false
	}
	for _, m := range missing {
		if !p.alive(m.Name) {
			// Within its grace period: it keeps its place, but a learner
			// there could not catch up.
			p.wait("%s is down within its grace period", m.Name)
			continue
		}
		return Action{
			Kind:    AddLearner,
			Node:    m.Name,
			Changes: []rangegroup.ReplicaChange{{Type: rangegroup.AddLearner, Node: m.Name}},
			Reason:  "wanted node has no replica",
		}, true
	}
	return Action{}, false
}

// promote: (3) a wanted learner that has caught up becomes a voter. When
// the range already has as many voters as the placement wants, an
// unwanted voter leaves in the same joint change, so the voter count never
// drops below what it was.
func (p *planState) promote() (Action, bool) {
	for _, m := range p.wanted {
		rd := p.replica[m.Name]
		if !p.isLearner(m.Name) || !p.alive(m.Name) || !p.caughtUp(rd) {
			continue
		}
		a := Action{
			Kind:    Promote,
			Node:    m.Name,
			Changes: []rangegroup.ReplicaChange{{Type: rangegroup.PromoteLearner, Node: m.Name}},
			Reason:  "wanted learner caught up",
		}
		if v := p.victim(); v != "" && p.voters >= len(p.wanted) {
			a.Changes = append(a.Changes, rangegroup.ReplicaChange{Type: rangegroup.RemoveReplica, Node: v})
			a.Reason += ", replacing " + v
		}
		return a, true
	}
	return Action{}, false
}

// victim picks the unwanted voter to remove, never this leader: members
// that no longer count first (their replicas are dead weight in every
// quorum), then by replica id. Empty when there is none.
func (p *planState) victim() string {
	var cands []*storagepb.ReplicaDescriptor
	for _, rd := range p.d.Replicas {
		if rd.Type == storagepb.ReplicaType_VOTER && !p.isWant[rd.Node] && rd.Node != p.cfg.Self {
			cands = append(cands, rd)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	best := slices.MinFunc(cands, func(a, b *storagepb.ReplicaDescriptor) int {
		_, aPresent := p.member[a.Node]
		_, bPresent := p.member[b.Node]
		return cmp.Or(compareBool(aPresent, bPresent), cmp.Compare(a.ReplicaId, b.ReplicaId))
	})
	return best.Node
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// removeLearner: (4) a learner on a node the placement does not want goes.
func (p *planState) removeLearner() (Action, bool) {
	for _, rd := range p.d.Replicas {
		if rd.Type == storagepb.ReplicaType_LEARNER && !p.isWant[rd.Node] {
			return p.remove(rd.Node, "learner not wanted"), true
		}
	}
	return Action{}, false
}

// removeVoter: (5) an unwanted voter goes once every wanted node holds a
// voter, so removals never drop the range below its wanted size. This
// leader never removes itself: it first hands leadership to a wanted
// caught-up voter, whose rebalancer then removes it.
func (p *planState) removeVoter() (Action, bool) {
	selfUnwanted := p.isVoter(p.cfg.Self) && !p.isWant[p.cfg.Self]
	v := p.victim()
	if v == "" && !selfUnwanted {
		return Action{}, false
	}
	for _, m := range p.wanted {
		if !p.isVoter(m.Name) {
			p.wait("wanted node %s has no voter yet", m.Name)
			return Action{}, false
		}
	}
	if v != "" {
		if p.voters < 2 {
			p.wait("%s holds the last voter", v)
			return Action{}, false
		}
		return p.remove(v, "voter not wanted"), true
	}
	if target := p.transferTarget(); target != "" {
		return Action{Kind: TransferLeadership, Node: target, Reason: "this leader's replica is not wanted"}, true
	}
	p.wait("no wanted caught-up voter to hand leadership to")
	return Action{}, false
}

func (p *planState) remove(node, reason string) Action {
	return Action{
		Kind:    RemoveReplica,
		Node:    node,
		Changes: []rangegroup.ReplicaChange{{Type: rangegroup.RemoveReplica, Node: node}},
		Reason:  reason,
	}
}

// leaderCandidate reports whether leadership can go to node: another live
// node whose voter has caught up.
func (p *planState) leaderCandidate(node string) bool {
	return node != p.cfg.Self && p.alive(node) && p.isVoter(node) && p.caughtUp(p.replica[node])
}

// transferTarget is the preferred leader if it can lead, else the first
// wanted node that can; empty if none.
func (p *planState) transferTarget() string {
	for _, m := range p.wanted {
		if p.leaderCandidate(m.Name) {
			return m.Name
		}
	}
	return ""
}

// transferToPreferred: (6) leadership moves to the preferred leader, once
// no learner is pending (a new leader would restart its catch-up).
func (p *planState) transferToPreferred() (Action, bool) {
	pref := p.wanted[0].Name
	if pref == p.cfg.Self {
		return Action{}, false
	}
	for _, rd := range p.d.Replicas {
		if rd.Type == storagepb.ReplicaType_LEARNER {
			p.wait("learner on %s pending before leadership moves", rd.Node)
			return Action{}, false
		}
	}
	if !p.leaderCandidate(pref) {
		p.wait("preferred leader %s is not a live caught-up voter", pref)
		return Action{}, false
	}
	return Action{Kind: TransferLeadership, Node: pref, Reason: "preferred leader"}, true
}
