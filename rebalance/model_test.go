package rebalance

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage/storagepb"
)

// model is an in-memory cluster of range descriptors on which Plan's
// actions are applied the way rangegroup would apply them. It checks, as
// each action is applied, the safety rules Plan promises (the last voter
// is never removed, a leader never removes itself, learners are promoted
// only when caught up, the snapshot cap holds).
type model struct {
	t       *testing.T
	rng     *rand.Rand
	cfg     PlanConfig
	members []Member
	// up is whether a node's process runs (a node that left runs until its
	// replicas are gone; a failed one does not).
	up     map[string]bool
	ranges map[uint64]*modelRange
	nextID uint64
	log    []string
}

type modelRange struct {
	d      *storagepb.RangeDescriptor
	leader string
	// caught holds the learners that have caught up.
	caught map[string]bool
}

// newModel builds a random ring of 1..8 members and a random tiling of
// the circle into ranges with random voter sets.
func newModel(t *testing.T, seed uint64) *model {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	m := &model{
		t:      t,
		rng:    rng,
		up:     make(map[string]bool),
		ranges: make(map[uint64]*modelRange),
		nextID: 1,
		cfg: PlanConfig{
			Replicas:     1 + rng.IntN(4),
			Grace:        time.Minute,
			Now:          t0,
			MaxSnapshots: 1 + rng.IntN(3),
		},
	}
	n := 1 + rng.IntN(8)
	for i := range n {
		m.addMember(fmt.Sprintf("n%d", i+1))
	}
	// Boundaries: random positions, some of them member ids.
	var bounds []uint64
	for range 1 + rng.IntN(5) {
		if rng.IntN(2) == 0 {
			bounds = append(bounds, m.members[rng.IntN(len(m.members))].ID)
		} else {
			bounds = append(bounds, m.randomID())
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	for i, end := range bounds {
		start := bounds[(i+len(bounds)-1)%len(bounds)]
		d := &storagepb.RangeDescriptor{RangeId: m.nextID, Start: start, End: end, Generation: 1}
		m.nextID++
		perm := rng.Perm(len(m.members))
		for j := range 1 + rng.IntN(min(3, len(m.members))) {
			name := m.members[perm[j]].Name
			d.Replicas = append(d.Replicas, &storagepb.ReplicaDescriptor{Node: name, ReplicaId: uint64(j + 1)})
		}
		d.NextReplicaId = uint64(len(d.Replicas) + 1)
		m.ranges[d.RangeId] = &modelRange{d: d, leader: d.Replicas[rng.IntN(len(d.Replicas))].Node, caught: map[string]bool{}}
	}
	return m
}

// randomID draws ring ids from a few shapes, so ids at the edges of the
// space and clustered ids both occur.
func (m *model) randomID() uint64 {
	switch m.rng.IntN(4) {
	case 0:
		return []uint64{0, 1, math.MaxUint64, math.MaxUint64 - 1}[m.rng.IntN(4)]
	case 1:
		return m.rng.Uint64N(64)
	default:
		return m.rng.Uint64()
	}
}

func (m *model) addMember(name string) Member {
	for {
		id := m.randomID()
		if slices.ContainsFunc(m.members, func(x Member) bool { return x.ID == id }) {
			continue
		}
		mb := alive(name, id)
		m.members = append(m.members, mb)
		m.up[name] = true
		return mb
	}
}

func (m *model) member(name string) *Member {
	for i := range m.members {
		if m.members[i].Name == name {
			return &m.members[i]
		}
	}
	m.t.Fatalf("no member %s", name)
	return nil
}

func (m *model) fatalf(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("%s\nstate:\n%s\nlast actions:\n%s", fmt.Sprintf(format, args...), m.dump(), strings.Join(m.log[max(0, len(m.log)-20):], "\n"))
}

func (m *model) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "R=%d cap=%d now=%v\n", m.cfg.Replicas, m.cfg.MaxSnapshots, m.cfg.Now.Sub(t0))
	for _, mb := range m.members {
		fmt.Fprintf(&b, "  member %s id=%d alive=%v left=%v down=%v up=%v\n", mb.Name, mb.ID, mb.Alive, mb.Left, mb.DownSince.Sub(t0), m.up[mb.Name])
	}
	for _, r := range m.sorted() {
		fmt.Fprintf(&b, "  %s leader %s\n", describe(r.d), r.leader)
	}
	return b.String()
}

func (m *model) sorted() []*modelRange {
	var rs []*modelRange
	for _, r := range m.ranges {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b *modelRange) int { return cmp.Compare(a.d.End, b.d.End) })
	return rs
}

func replicaOf(d *storagepb.RangeDescriptor, node string) *storagepb.ReplicaDescriptor {
	for _, rd := range d.Replicas {
		if rd.Node == node {
			return rd
		}
	}
	return nil
}

func voters(d *storagepb.RangeDescriptor) int {
	n := 0
	for _, rd := range d.Replicas {
		if rd.Type == storagepb.ReplicaType_VOTER {
			n++
		}
	}
	return n
}

// info is the leader's view of a range: replicas on running nodes are
// caught up (learners once marked so), others are not.
func (m *model) info(r *modelRange) rangegroup.RangeInfo {
	info := rangegroup.RangeInfo{RangeID: r.d.RangeId, Descriptor: proto.Clone(r.d).(*storagepb.RangeDescriptor),
		Leader: r.leader, IsLeader: true, CommitIndex: testCommit, Progress: make(map[uint64]rangegroup.ReplicaProgress)}
	for _, rd := range r.d.Replicas {
		caught := m.up[rd.Node] && (rd.Type == storagepb.ReplicaType_VOTER || r.caught[rd.Node])
		if caught {
			info.Progress[rd.ReplicaId] = rangegroup.ReplicaProgress{Match: testCommit, State: "replicate", RecentActive: true}
		} else {
			info.Progress[rd.ReplicaId] = rangegroup.ReplicaProgress{State: "probe"}
		}
	}
	return info
}

// elect gives every range whose leader is down a running voter as leader,
// as Raft would (quorum is not modelled: Plan does not reason about it).
func (m *model) elect() {
	for _, r := range m.sorted() {
		if rd := replicaOf(r.d, r.leader); m.up[r.leader] && rd != nil && rd.Type == storagepb.ReplicaType_VOTER {
			continue
		}
		var cands []string
		for _, rd := range r.d.Replicas {
			if rd.Type == storagepb.ReplicaType_VOTER && m.up[rd.Node] {
				cands = append(cands, rd.Node)
			}
		}
		if len(cands) > 0 {
			r.leader = cands[m.rng.IntN(len(cands))]
		}
	}
}

// round runs one pass on every node that leads something and applies the
// actions; then some learners catch up. It returns how many actions ran.
func (m *model) round() int {
	m.elect()
	byLeader := map[string][]rangegroup.RangeInfo{}
	for _, r := range m.sorted() {
		if m.up[r.leader] {
			byLeader[r.leader] = append(byLeader[r.leader], m.info(r))
		}
	}
	leaders := make([]string, 0, len(byLeader))
	for l := range byLeader {
		leaders = append(leaders, l)
	}
	slices.Sort(leaders)
	acted := 0
	var learners []*storagepb.ReplicaDescriptor
	for _, r := range m.ranges {
		for _, rd := range r.d.Replicas {
			if rd.Type == storagepb.ReplicaType_LEARNER {
				learners = append(learners, rd)
			}
		}
	}
	for _, leader := range leaders {
		infos := byLeader[leader]
		slices.SortFunc(infos, func(a, b rangegroup.RangeInfo) int { return cmp.Compare(a.RangeID, b.RangeID) })
		c := m.cfg
		c.Self = leader
		for _, ra := range planPass(infos, m.members, c, nil).actions {
			m.apply(leader, ra.info.RangeID, ra.action)
			acted++
		}
	}
	// Learners that existed before this round catch up, each with even
	// odds, so catch-up takes a varying number of rounds.
	for _, r := range m.ranges {
		for _, rd := range r.d.Replicas {
			if slices.Contains(learners, rd) && m.up[rd.Node] && m.rng.IntN(2) == 0 {
				r.caught[rd.Node] = true
			}
		}
	}
	return acted
}

// inFlight counts the learners catching up in the ranges leader leads.
func (m *model) inFlight(leader string) int {
	c := m.cfg
	c.Self = leader
	n := 0
	for _, r := range m.ranges {
		if r.leader == leader {
			n += newPlanState(m.info(r), newMemberSet(m.members, c), c.withDefaults()).snapshots()
		}
	}
	return n
}

// apply executes one action as rangegroup would, failing the test on any
// action rangegroup would refuse or that breaks a safety rule.
func (m *model) apply(leader string, rangeID uint64, a Action) {
	m.t.Helper()
	r := m.ranges[rangeID]
	m.log = append(m.log, fmt.Sprintf("%s on %s: %v [%s]", leader, describe(r.d), a, changesString(a.Changes)))
	if r.leader != leader {
		m.fatalf("%s acted on range %d led by %s", leader, rangeID, r.leader)
	}
	d := r.d
	switch a.Kind {
	case Split:
		if a.At == d.End || !(kv.Arc{Start: d.Start, End: d.End}).Contains(a.At) {
			m.fatalf("split of %s at %d: not strictly inside", describe(d), a.At)
		}
		rhs := proto.Clone(d).(*storagepb.RangeDescriptor)
		rhs.RangeId, rhs.Start = m.nextID, a.At
		m.nextID++
		d.End = a.At
		d.Generation++
		rhs.Generation = d.Generation
		m.ranges[rhs.RangeId] = &modelRange{d: rhs, leader: leader, caught: maps(r.caught)}
		return
	case Merge:
		rhs := m.ranges[a.With]
		if rhs == nil || rhs.leader != leader || rhs.d.Start != d.End || !slices.Equal(d.VoterNodes(), rhs.d.VoterNodes()) {
			m.fatalf("merge of %s into %s: not a neighbour led here with the same voters", describe(rhs.d), describe(d))
		}
		d.End = rhs.d.End
		d.Generation = max(d.Generation, rhs.d.Generation) + 1
		delete(m.ranges, a.With)
		return
	case TransferLeadership:
		rd := replicaOf(d, a.Node)
		if rd == nil || rd.Type != storagepb.ReplicaType_VOTER || !m.up[a.Node] || a.Node == leader {
			m.fatalf("transfer of %s to %s: not another running voter", describe(d), a.Node)
		}
		r.leader = a.Node
		return
	}
	if a.Kind == AddLearner && m.inFlight(leader) >= m.cfg.MaxSnapshots {
		m.fatalf("%s adds a learner with %d already catching up (cap %d)", leader, m.inFlight(leader), m.cfg.MaxSnapshots)
	}
	if len(a.Changes) == 0 {
		m.fatalf("action %v without changes", a)
	}
	for _, ch := range a.Changes {
		rd := replicaOf(d, ch.Node)
		switch ch.Type {
		case rangegroup.AddLearner:
			if rd != nil {
				m.fatalf("add learner %s: already a replica", ch.Node)
			}
			if !m.member(ch.Node).Alive {
				m.fatalf("add learner on %s, which is not alive", ch.Node)
			}
			d.Replicas = append(d.Replicas, &storagepb.ReplicaDescriptor{Node: ch.Node, ReplicaId: d.NextReplicaId, Type: storagepb.ReplicaType_LEARNER})
			d.NextReplicaId++
			delete(r.caught, ch.Node)
		case rangegroup.PromoteLearner:
			if rd == nil || rd.Type != storagepb.ReplicaType_LEARNER || !r.caught[ch.Node] || !m.up[ch.Node] {
				m.fatalf("promote %s: not a caught-up learner", ch.Node)
			}
			rd.Type = storagepb.ReplicaType_VOTER
		case rangegroup.RemoveReplica:
			if rd == nil {
				m.fatalf("remove %s: no replica", ch.Node)
			}
			if ch.Node == leader {
				m.fatalf("leader %s removes itself", leader)
			}
			d.Replicas = slices.DeleteFunc(d.Replicas, func(x *storagepb.ReplicaDescriptor) bool { return x == rd })
		default:
			m.fatalf("unknown change %v", ch)
		}
	}
	if voters(d) == 0 {
		m.fatalf("%v removed the last voter", a)
	}
	d.Generation++
}

func maps(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// converge runs rounds until one that starts with no learner catching up
// runs no action: nothing can change after that.
func (m *model) converge() {
	m.t.Helper()
	for i := 0; i < 500; i++ {
		pending := m.pendingLearners()
		if m.round() == 0 && pending == 0 {
			return
		}
	}
	m.fatalf("no fixpoint after 500 rounds")
}

// pendingLearners counts learners on running nodes not yet caught up.
func (m *model) pendingLearners() int {
	n := 0
	for _, r := range m.ranges {
		for _, rd := range r.d.Replicas {
			if rd.Type == storagepb.ReplicaType_LEARNER && m.up[rd.Node] && !r.caught[rd.Node] {
				n++
			}
		}
	}
	return n
}

// checkPlacement asserts the converged state: ranges tile the circle,
// every present member id is a range end and none lies inside a range,
// every range's replicas are exactly its placement, all voters, and its
// leader is the preferred one.
func (m *model) checkPlacement() {
	m.t.Helper()
	rs := m.sorted()
	if len(rs) == 1 {
		if rs[0].d.Start != rs[0].d.End {
			m.fatalf("single range %s does not cover the circle", describe(rs[0].d))
		}
	} else {
		for i, r := range rs {
			prev := rs[(i+len(rs)-1)%len(rs)]
			if r.d.Start != prev.d.End || r.d.Start == r.d.End {
				m.fatalf("ranges do not tile the circle at %s", describe(r.d))
			}
		}
	}
	present := presentMembers(m.members, m.cfg.Now, m.cfg.Grace)
	for _, r := range rs {
		if at, ok := splitPoint(r.d.Start, r.d.End, present); ok {
			m.fatalf("member id %d lies inside %s", at, describe(r.d))
		}
		want := Placement(r.d.End, m.members, m.cfg.Replicas, m.cfg.Now, m.cfg.Grace)
		wantSet := slices.Clone(names(want))
		slices.Sort(wantSet)
		if got := replicaSet(r.d); got != strings.Join(wantSet, " ") {
			m.fatalf("%s: replicas [%s], want [%s]", describe(r.d), got, strings.Join(wantSet, " "))
		}
		if r.leader != want[0].Name {
			m.fatalf("%s: leader %s, want %s", describe(r.d), r.leader, want[0].Name)
		}
	}
}

// snapshotReplicas records every range's replica set by range id.
func (m *model) snapshotReplicas() map[uint64]string {
	out := make(map[uint64]string)
	for id, r := range m.ranges {
		out[id] = replicaSet(r.d)
	}
	return out
}

// TestPlanConverges drives random rings and random initial tilings through
// joins, a failure (inside then past the grace period) and a graceful
// leave, applying Plan's actions on the model until nothing is left to do,
// and checks the placement rule after each phase.
func TestPlanConverges(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 250; seed++ {
		m := newModel(t, seed)
		m.t = t
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			m.t = t
			m.converge()
			m.checkPlacement()

			// A node joins.
			m.addMember(fmt.Sprintf("n%d", len(m.members)+1))
			m.converge()
			m.checkPlacement()

			present := func() []Member { return presentMembers(m.members, m.cfg.Now, m.cfg.Grace) }
			if len(present()) >= 2 && m.cfg.Replicas >= 2 {
				// A node fails: within grace nothing moves.
				victim := present()[m.rng.IntN(len(present()))].Name
				before := m.snapshotReplicas()
				vm := m.member(victim)
				vm.Alive, vm.DownSince = false, m.cfg.Now
				m.up[victim] = false
				m.cfg.Now = m.cfg.Now.Add(m.cfg.Grace - time.Second)
				m.converge()
				for id, set := range m.snapshotReplicas() {
					if before[id] != set {
						m.fatalf("within grace, range %d changed from [%s] to [%s]", id, before[id], set)
					}
				}
				// Past grace it is replaced.
				m.cfg.Now = vm.DownSince.Add(m.cfg.Grace)
				m.converge()
				m.checkPlacement()
				for _, r := range m.ranges {
					if replicaOf(r.d, victim) != nil {
						m.fatalf("failed node %s still in %s", victim, describe(r.d))
					}
				}
			}
			if len(present()) >= 2 {
				// A node leaves gracefully: replaced at once, while it
				// still runs (and may lead ranges it must hand over).
				leaver := present()[m.rng.IntN(len(present()))].Name
				lm := m.member(leaver)
				lm.Alive, lm.Left, lm.DownSince = false, true, m.cfg.Now
				m.converge()
				m.checkPlacement()
				for _, r := range m.ranges {
					if replicaOf(r.d, leaver) != nil {
						m.fatalf("node %s left but is still in %s", leaver, describe(r.d))
					}
				}
			}
		})
	}
}
