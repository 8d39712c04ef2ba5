package rebalance

import (
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/rangegroup"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	n1, n2, n3, n4 := alive("n1", 100), alive("n2", 200), alive("n3", 300), alive("n4", 400)
	four := []Member{n1, n2, n3, n4}
	failed := func(m Member, ago time.Duration) Member {
		m.Alive, m.DownSince = false, t0.Add(-ago)
		return m
	}
	left := func(m Member) Member {
		m.Alive, m.Left, m.DownSince = false, true, t0
		return m
	}
	cfg := PlanConfig{Replicas: 3, Grace: time.Minute, Now: t0, CatchUpLag: 5, MaxSnapshots: 2}
	tests := []struct {
		name     string
		self     string
		info     rangegroup.RangeInfo
		members  []Member
		inFlight int
		replicas int
		kind     ActionKind
		at       uint64
		node     string
		changes  string // changesString of the action's changes
		reason   string // substring of the reason
	}{
		{name: "a follower does nothing", self: "n1", members: four,
			info: func() rangegroup.RangeInfo {
				i := rangeLedBy("n1", 100, 100, "n1")
				i.IsLeader = false
				return i
			}(), kind: None, reason: "not the leader"},
		{name: "an uninitialized replica does nothing", self: "n1", members: four,
			info: rangegroup.RangeInfo{RangeID: 7, IsLeader: true}, kind: None},
		{name: "bootstrap range splits at the first joiner", self: "n1", members: []Member{n1, n3},
			info: rangeLedBy("n1", 100, 100, "n1"), kind: Split, at: 300},
		{name: "split comes before everything else", self: "n1", members: four,
			info: rangeLedBy("n1", 100, 400, "n1", "n2:L+"), kind: Split, at: 200},
		{name: "a single node's range is in placement", self: "n1", members: []Member{n1},
			info: rangeLedBy("n1", 100, 100, "n1"), kind: None, reason: "in placement"},
		{name: "missing wanted node gets a learner", self: "n2", members: four,
			info: rangeLedBy("n2", 100, 200, "n2", "n3"), kind: AddLearner, node: "n4", changes: "+n4"},
		{name: "snapshot cap reached", self: "n2", members: four, inFlight: 2,
			info: rangeLedBy("n2", 100, 200, "n2", "n3"), kind: None, reason: "snapshot cap"},
		{name: "one learner at a time per range", self: "n2", members: four,
			info: rangeLedBy("n2", 100, 200, "n2", "n3:L"), kind: None, reason: "catching up"},
		{name: "caught-up learner promoted, replacing an unwanted voter", self: "n2", members: four,
			info: rangeLedBy("n2", 100, 200, "n1", "n2", "n3", "n4:L+"), kind: Promote, node: "n4", changes: "^n4 -n1"},
		{name: "promotion without removal while voters are short", self: "n2", members: four,
			info: rangeLedBy("n2", 100, 200, "n1", "n2", "n3:L+", "n4:L"), kind: Promote, node: "n3", changes: "^n3"},
		{name: "a learner that lags is not promoted", self: "n2", members: four,
			info: rangeLedBy("n2", 100, 200, "n1", "n2", "n3", "n4:L"), kind: None, reason: "n4 has no voter yet"},
		{name: "the leader is never the victim of a promotion", self: "n1", members: four,
			info: rangeLedBy("n1", 100, 200, "n1", "n2", "n3", "n4:L+"), kind: Promote, node: "n4", changes: "^n4"},
		{name: "a dead voter is replaced before a live one", self: "n2", members: []Member{n1, n2, n3, n4, alive("n5", 500)},
			// wanted for (400, 500]: n5 n1 n2; n3 and n4 are unwanted and n4 left.
			info:     rangeLedBy("n2", 400, 500, "n2", "n3", "n4", "n5", "n1:L+"),
			replicas: 3, kind: Promote, node: "n1", changes: "^n1 -n3"},
		{name: "a left voter is replaced before a live one", self: "n2", members: []Member{n1, n2, n3, left(n4), alive("n5", 500)},
			info:     rangeLedBy("n2", 400, 500, "n2", "n3", "n4", "n5", "n1:L+"),
			replicas: 3, kind: Promote, node: "n1", changes: "^n1 -n4"},
		{name: "unwanted learner removed", self: "n2", members: four,
			info: rangeLedBy("n2", 100, 200, "n2", "n3", "n4", "n1:L"), kind: RemoveReplica, node: "n1", changes: "-n1"},
		{name: "unwanted voter removed once every wanted node votes", self: "n2", members: four,
			info: rangeLedBy("n2", 100, 200, "n1", "n2", "n3", "n4"), kind: RemoveReplica, node: "n1", changes: "-n1"},
		{name: "no removal while a wanted node lacks a voter", self: "n2", members: four, inFlight: 2,
			info: rangeLedBy("n2", 100, 200, "n1", "n2", "n3"), kind: None, reason: "has no voter"},
		{name: "unwanted leader hands over to the preferred leader", self: "n1", members: four,
			info: rangeLedBy("n1", 100, 200, "n1", "n2", "n3", "n4"), kind: TransferLeadership, node: "n2"},
		{name: "unwanted leader hands over to another wanted voter if the preferred lags", self: "n1", members: four,
			info: rangeLedBy("n1", 100, 200, "n1", "n2:V-", "n3", "n4"), kind: TransferLeadership, node: "n3"},
		{name: "leadership moves to the preferred leader", self: "n3", members: four,
			info: rangeLedBy("n3", 100, 200, "n2", "n3", "n4"), kind: TransferLeadership, node: "n2", reason: "preferred"},
		{name: "leadership waits for a lagging preferred leader", self: "n3", members: four,
			info: rangeLedBy("n3", 100, 200, "n2:V-", "n3", "n4"), kind: None, reason: "preferred leader n2"},
		{name: "in placement", self: "n2", members: four,
			info: rangeLedBy("n2", 100, 200, "n2", "n3", "n4"), kind: None, reason: "in placement"},
		{name: "a member failed within grace keeps its replicas", self: "n2", members: []Member{n1, n2, failed(n3, time.Second), n4},
			info: rangeLedBy("n2", 100, 200, "n2", "n3:V-", "n4"), kind: None},
		{name: "a member failed within grace keeps its place but gets no learner", self: "n2", members: []Member{n1, n2, failed(n3, time.Second), n4},
			info: rangeLedBy("n2", 100, 200, "n2", "n4"), kind: None, reason: "grace"},
		{name: "a member failed past grace is replaced", self: "n2", members: []Member{n1, n2, failed(n3, time.Hour), n4},
			info: rangeLedBy("n2", 100, 200, "n2", "n3:V-", "n4"), kind: AddLearner, node: "n1", changes: "+n1"},
		{name: "a member that left is replaced at once", self: "n2", members: []Member{n1, n2, left(n3), n4},
			info: rangeLedBy("n2", 100, 200, "n2", "n3", "n4"), kind: AddLearner, node: "n1", changes: "+n1"},
		{name: "the ring shrank below R: extra voter removed", self: "n1", members: []Member{n1, n2, left(n3)},
			info: rangeLedBy("n1", 200, 100, "n1", "n2", "n3"), kind: RemoveReplica, node: "n3"},
		{name: "a sole leader that left adds its replacement", self: "n1", members: []Member{left(n1), n2}, replicas: 1,
			info: rangeLedBy("n1", 200, 100, "n1"), kind: AddLearner, node: "n2"},
		{name: "a sole leader never removes itself, it promotes first", self: "n1", members: []Member{left(n1), n2}, replicas: 1,
			info: rangeLedBy("n1", 200, 100, "n1", "n2:L+"), kind: Promote, node: "n2", changes: "^n2"},
		{name: "then hands over", self: "n1", members: []Member{left(n1), n2}, replicas: 1,
			info: rangeLedBy("n1", 200, 100, "n1", "n2"), kind: TransferLeadership, node: "n2"},
		{name: "and the new leader removes it", self: "n2", members: []Member{left(n1), n2}, replicas: 1,
			info: rangeLedBy("n2", 200, 100, "n1", "n2"), kind: RemoveReplica, node: "n1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Self = tc.self
			c.SnapshotsInFlight = tc.inFlight
			if tc.replicas != 0 {
				c.Replicas = tc.replicas
			}
			a := Plan(tc.info, tc.members, c)
			if a.Kind != tc.kind || a.At != tc.at || a.Node != tc.node && tc.node != "" ||
				tc.changes != "" && changesString(a.Changes) != tc.changes || !strings.Contains(a.Reason, tc.reason) {
				t.Fatalf("Plan = %v [%s], want %v at %d node %q changes %q reason ~%q",
					a, changesString(a.Changes), tc.kind, tc.at, tc.node, tc.changes, tc.reason)
			}
			if (a.Kind == None) != InPlacement(tc.info, tc.members, c) && tc.reason == "in placement" {
				t.Fatalf("InPlacement disagrees with Plan's %v", a)
			}
		})
	}
}

func TestInPlacement(t *testing.T) {
	t.Parallel()
	four := []Member{alive("n1", 100), alive("n2", 200), alive("n3", 300), alive("n4", 400)}
	cfg := PlanConfig{Replicas: 3, Now: t0}
	tests := []struct {
		name string
		self string
		info rangegroup.RangeInfo
		want bool
	}{
		{"exact", "n2", rangeLedBy("n2", 100, 200, "n2", "n3", "n4"), true},
		{"wrong leader", "n3", rangeLedBy("n3", 100, 200, "n2", "n3", "n4"), false},
		{"a learner", "n2", rangeLedBy("n2", 100, 200, "n2", "n3", "n4:L+"), false},
		{"an extra replica", "n2", rangeLedBy("n2", 100, 200, "n1", "n2", "n3", "n4"), false},
		{"a missing replica", "n2", rangeLedBy("n2", 100, 200, "n2", "n3"), false},
		{"needs a split", "n2", rangeLedBy("n2", 50, 200, "n2", "n3", "n4"), false},
		{"not led here", "n2", func() rangegroup.RangeInfo {
			i := rangeLedBy("n2", 100, 200, "n2", "n3", "n4")
			i.IsLeader = false
			return i
		}(), false},
	}
	for _, tc := range tests {
		c := cfg
		c.Self = tc.self
		if got := InPlacement(tc.info, four, c); got != tc.want {
			t.Errorf("%s: InPlacement = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPlanPassCountsSnapshotsNodeWide(t *testing.T) {
	t.Parallel()
	four := []Member{alive("n1", 100), alive("n2", 200), alive("n3", 300), alive("n4", 400)}
	// Three ranges led by n2, each missing a replica on n4; one already has
	// a learner catching up on n3. With a cap of 2 only one more learner
	// may start, on the first range in id order that needs one.
	a := rangeLedBy("n2", 100, 200, "n2", "n3")
	b := rangeLedBy("n2", 400, 100, "n1", "n2", "n3:L")
	b.RangeID = 8
	c := rangeLedBy("n2", 100, 200, "n2", "n3")
	c.RangeID = 9
	follower := rangeLedBy("n3", 200, 300, "n3", "n4:L")
	follower.IsLeader = false
	cfg := PlanConfig{Self: "n2", Replicas: 3, Now: t0, MaxSnapshots: 2}
	pp := planPass([]rangegroup.RangeInfo{a, b, c, follower}, four, cfg, nil)
	if pp.led != 3 || pp.snapshots != 1 || pp.outOfPlacement != 3 {
		t.Fatalf("led %d snapshots %d out of placement %d, want 3 1 3", pp.led, pp.snapshots, pp.outOfPlacement)
	}
	var adds []uint64
	for _, ra := range pp.actions {
		if ra.action.Kind == AddLearner {
			adds = append(adds, ra.info.RangeID)
		}
	}
	if len(adds) != 1 || adds[0] != 7 {
		t.Fatalf("learners added on ranges %v, want [7]", adds)
	}
	// A held range is not planned at all.
	pp = planPass([]rangegroup.RangeInfo{a}, four, cfg, func(rangegroup.RangeInfo) bool { return true })
	if len(pp.actions) != 0 || pp.led != 1 {
		t.Fatalf("held range planned: %+v", pp)
	}
}

func TestActionKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[ActionKind]string{None: "none", Split: "split", AddLearner: "add_learner", Promote: "promote",
		RemoveReplica: "remove_replica", TransferLeadership: "transfer_leadership", Merge: "merge", AbortMerge: "abort_merge",
		ActionKind(42): "ActionKind(42)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}
