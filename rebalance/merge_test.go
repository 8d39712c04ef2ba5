package rebalance

import (
	"testing"

	"github.com/concord-kv/concord/rangegroup"
)

// withID gives a hand-built range its own id.
func withID(info rangegroup.RangeInfo, id uint64) rangegroup.RangeInfo {
	info.RangeID = id
	info.Descriptor.RangeId = id
	return info
}

func TestPlanMerges(t *testing.T) {
	t.Parallel()
	// Members n1 at 100, n3 at 300; n2 (at 200) is gone for good. Ranges
	// (100, 200] and (200, 300] are both placed on n3, n1.
	members := []Member{alive("n1", 100), alive("n3", 300)}
	cfg := PlanConfig{Self: "n3", Replicas: 3, Now: t0}
	left := withID(rangeLedBy("n3", 100, 200, "n3", "n1"), 1)
	right := withID(rangeLedBy("n3", 200, 300, "n3", "n1"), 2)
	rest := withID(rangeLedBy("n1", 300, 100, "n1", "n3"), 3)
	rest.IsLeader = false // n1 leads it

	actionsOf := func(infos ...rangegroup.RangeInfo) []rangeAction {
		return planPass(infos, members, cfg, nil).actions
	}
	got := actionsOf(left, right, rest)
	if len(got) != 1 || got[0].action.Kind != Merge || got[0].info.RangeID != 1 || got[0].action.With != 2 {
		t.Fatalf("actions = %+v, want range 1 to absorb range 2", got)
	}

	// A present member at the boundary keeps the ranges apart, also one
	// that is down within its grace period.
	withN2 := append(members, Member{Name: "n2", ID: 200, DownSince: t0})
	cfgGrace := cfg
	cfgGrace.Grace = 1 << 40
	if acts := planPass([]rangegroup.RangeInfo{left, right}, withN2, cfgGrace, nil).actions; len(acts) != 0 {
		t.Fatalf("merge across a member within grace: %+v", acts)
	}
	// Different voters, or a neighbour led elsewhere: no merge.
	other := withID(rangeLedBy("n3", 200, 300, "n3", "n1:L+"), 2)
	for _, acts := range [][]rangeAction{actionsOf(left, other), actionsOf(left)} {
		for _, a := range acts {
			if a.action.Kind == Merge {
				t.Fatalf("unexpected merge %+v", a)
			}
		}
	}
	// A held range does not merge.
	held := func(info rangegroup.RangeInfo) bool { return info.RangeID == 2 }
	if acts := planPass([]rangegroup.RangeInfo{left, right}, members, cfg, held).actions; len(acts) != 0 {
		t.Fatalf("merge with a held range: %+v", acts)
	}

	// A range left frozen for range 1: merged again while it fits...
	frozen := right
	frozen.FrozenFor = 1
	if got := actionsOf(left, frozen); len(got) != 1 || got[0].action.Kind != Merge || got[0].action.With != 2 {
		t.Fatalf("frozen range that still fits: %+v, want the merge again", got)
	}
	// ...and unfrozen once a member at the boundary came back.
	back := append(members, alive("n2", 200))
	got = planPass([]rangegroup.RangeInfo{left, frozen}, back, cfg, nil).actions
	var abort *rangeAction
	for i := range got {
		if got[i].action.Kind == AbortMerge {
			abort = &got[i]
		}
	}
	if abort == nil || abort.info.RangeID != 2 || abort.action.With != 1 {
		t.Fatalf("frozen range that no longer fits: %+v, want AbortMerge on range 2", got)
	}
	// A frozen range whose LHS another node leads goes to that node.
	elsewhere := left
	elsewhere.IsLeader, elsewhere.Leader = false, "n1"
	got = actionsOf(elsewhere, frozen)
	if len(got) != 1 || got[0].action.Kind != TransferLeadership || got[0].action.Node != "n1" || got[0].info.RangeID != 2 {
		t.Fatalf("frozen range whose LHS n1 leads: %+v, want its leadership handed to n1", got)
	}
}
