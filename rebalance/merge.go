package rebalance

import (
	"fmt"
	"slices"
)

// planMerges is the last concern of a pass, and the only one that looks at
// two ranges at once: ranges are cut at members' ids, so when a member is
// gone for good, the two ranges that met at its id should be one again.
// A led range in placement whose end is no present member's id merges with
// its right neighbour when this node leads that one too, it is also in
// placement, and both have the same voters (which the placement rule then
// makes them have: both are placed from the same successor). A range left
// frozen by a merge that did not finish is merged again if the merge
// still fits, and unfrozen (AbortMerge) if it does not; both need the
// LHS's leader, so a frozen range whose LHS is led elsewhere hands its
// leadership to that node.
//
// skip reports the ranges that must not take part: held, or given another
// action this pass. leaders maps the ids of ranges with a replica here to
// the leader this node knows.
func planMerges(led []*planState, skip func(*planState) bool, leaders map[uint64]string) []rangeAction {
	byID := make(map[uint64]*planState, len(led))
	byStart := make(map[uint64]*planState, len(led))
	for _, p := range led {
		byID[p.info.RangeID] = p
		if !skip(p) {
			byStart[p.d.Start] = p
		}
	}
	used := make(map[uint64]bool)
	var out []rangeAction
	add := func(on *planState, a Action) {
		used[on.info.RangeID], used[a.With] = true, true
		out = append(out, rangeAction{info: on.info, action: a})
	}
	for _, p := range led {
		if skip(p) || used[p.info.RangeID] {
			continue
		}
		if lhsID := p.info.FrozenFor; lhsID != 0 {
			lhs := byID[lhsID]
			switch {
			case lhs == nil:
				if l := leaders[lhsID]; l != "" && l != p.cfg.Self && p.leaderCandidate(l) {
					out = append(out, rangeAction{info: p.info, action: Action{Kind: TransferLeadership, Node: l,
						Reason: fmt.Sprintf("frozen for range %d, which %s leads", lhsID, l)}})
				}
			case used[lhsID]:
				// Already in a merge of this pass.
			case mergeFits(lhs, p):
				if !skip(lhs) {
					add(lhs, Action{Kind: Merge, With: p.info.RangeID, Reason: "finish a merge left frozen"})
				}
			default:
				// Undoing only bumps the LHS's generation, so it may run
				// beside another action on the LHS.
				add(p, Action{Kind: AbortMerge, With: lhsID, Reason: "the frozen merge no longer fits"})
			}
			continue
		}
		rhs := byStart[p.d.End]
		if rhs == nil || rhs == p || used[rhs.info.RangeID] || rhs.info.FrozenFor != 0 || !mergeFits(p, rhs) {
			continue
		}
		add(p, Action{Kind: Merge, With: rhs.info.RangeID, Reason: fmt.Sprintf("no member at %d separates it from range %d", p.d.End, rhs.info.RangeID)})
	}
	return out
}

// mergeFits reports whether lhs may absorb rhs: neighbours, both in
// placement (so led here), no present member's id between them, and the
// same voters.
func mergeFits(lhs, rhs *planState) bool {
	if lhs.d.End != rhs.d.Start || lhs.info.FrozenFor != 0 || !lhs.inPlacement() || !rhs.inPlacement() {
		return false
	}
	for _, m := range lhs.present {
		if m.ID == lhs.d.End {
			return false
		}
	}
	return slices.Equal(lhs.d.VoterNodes(), rhs.d.VoterNodes())
}
