package rebalance

import (
	"strings"
	"time"

	"github.com/concord-kv/concord/rangegroup"
)

// PlanConfig is what Plan needs besides the range and the members.
type PlanConfig struct {
	// Self is this node's name; Plan only plans for ranges it leads.
	Self string
	// Replicas is the replication factor R (default 3).
	Replicas int
	// Grace is how long a failed member still counts (Member.Present).
	// Zero means no grace at all.
	Grace time.Duration
	// Now is the time liveness is judged at.
	Now time.Time
	// CatchUpLag is how many entries behind the commit index a replica may
	// be and still count as caught up (0: it must hold every entry).
	CatchUpLag uint64
	// MaxSnapshots caps the learners being caught up by this node's
	// leaders, node-wide (default 2).
	MaxSnapshots int
	// SnapshotsInFlight is how many learners this node's leaders are
	// catching up now; Plan adds a learner only below MaxSnapshots.
	SnapshotsInFlight int
}

func (c PlanConfig) withDefaults() PlanConfig {
	if c.Replicas <= 0 {
		c.Replicas = DefaultReplicas
	}
	if c.MaxSnapshots <= 0 {
		c.MaxSnapshots = DefaultMaxConcurrentSnapshots
	}
	return c
}

// Plan is the pure core of the rebalancer: for one range this node leads,
// the single next action toward the placement rule, or None with the
// reason it waits. Concerns are taken in order, the first that applies
// wins:
//
//  1. split at a present member's id strictly inside the range;
//  2. add a learner on a wanted node that has no replica, unless this
//     range already has a learner catching up or the node-wide snapshot
//     cap is reached;
//  3. promote a wanted, caught-up learner, removing one unwanted voter in
//     the same joint change when that keeps at least the wanted number of
//     voters;
//  4. remove an unwanted learner;
//  5. remove an unwanted voter once every wanted node has a voter (never
//     the last voter; if the unwanted voter is this leader, hand
//     leadership to a wanted caught-up voter first);
//  6. hand leadership to the preferred leader once it holds a caught-up
//     voter and no learner is pending.
//
// Plan returns None for a range this node does not lead or whose
// descriptor is unknown: another node's view may be stale.
func Plan(info rangegroup.RangeInfo, members []Member, cfg PlanConfig) Action {
	cfg = cfg.withDefaults()
	if !info.IsLeader || info.Descriptor == nil {
		return Action{Kind: None, Reason: "not the leader"}
	}
	return newPlanState(info, newMemberSet(members, cfg), cfg).plan()
}

// plan runs the rules over one led range.
func (p *planState) plan() Action {
	if len(p.wanted) == 0 {
		return Action{Kind: None, Reason: "no member is present"}
	}
	for _, rule := range rules {
		if a, ok := rule(p); ok {
			return a
		}
	}
	if len(p.waiting) > 0 {
		return Action{Kind: None, Reason: strings.Join(p.waiting, "; ")}
	}
	return Action{Kind: None, Reason: "in placement"}
}

// rules are Plan's concerns in order. A rule returns an action and true to
// decide, or false to let the next rule look (noting in p.waiting what it
// waits for). A merge of adjacent ranges with equal replica sets would be
// one more rule at the end, once rangegroup can execute merges.
var rules = []func(*planState) (Action, bool){
	(*planState).split,
	(*planState).addLearner,
	(*planState).promote,
	(*planState).removeLearner,
	(*planState).removeVoter,
	(*planState).transferToPreferred,
}

// InPlacement reports whether a range this node leads satisfies the
// placement rule: no member id lies strictly inside it, its replicas are
// exactly the placement's nodes, all voters, and this node is the
// preferred leader. It is false for a range this node does not lead.
func InPlacement(info rangegroup.RangeInfo, members []Member, cfg PlanConfig) bool {
	cfg = cfg.withDefaults()
	if !info.IsLeader || info.Descriptor == nil {
		return false
	}
	return newPlanState(info, newMemberSet(members, cfg), cfg).inPlacement()
}

func (p *planState) inPlacement() bool {
	if _, split := splitPoint(p.d.Start, p.d.End, p.present); split || len(p.wanted) == 0 {
		return false
	}
	if p.wanted[0].Name != p.cfg.Self || len(p.d.Replicas) != len(p.wanted) {
		return false
	}
	for _, m := range p.wanted {
		if !p.isVoter(m.Name) {
			return false
		}
	}
	return true
}
