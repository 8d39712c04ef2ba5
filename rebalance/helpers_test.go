package rebalance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/storage/storagepb"
)

// testCommit is the commit index of the ranges tests build by hand.
const testCommit = 100

// t0 is the fake "now" of the pure tests.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// alive returns a live member.
func alive(name string, id uint64) Member { return Member{Name: name, ID: id, Alive: true} }

// rep describes one replica of a hand-built range: "n1" is a caught-up
// voter, "n1:L" a learner catching up, "n1:L+" a caught-up learner,
// "n1:V-" a voter that is behind.
type rep string

// rangeLedBy builds the RangeInfo of range 7 over (start, end] as its
// leader self sees it.
func rangeLedBy(self string, start, end uint64, reps ...rep) rangegroup.RangeInfo {
	d := &storagepb.RangeDescriptor{RangeId: 7, Start: start, End: end, Generation: 3}
	info := rangegroup.RangeInfo{RangeID: 7, Descriptor: d, Leader: self, IsLeader: true, CommitIndex: testCommit,
		Progress: make(map[uint64]rangegroup.ReplicaProgress)}
	for i, r := range reps {
		node, flags, _ := strings.Cut(string(r), ":")
		rd := &storagepb.ReplicaDescriptor{Node: node, ReplicaId: uint64(i + 1)}
		caught := true
		switch flags {
		case "L":
			rd.Type, caught = storagepb.ReplicaType_LEARNER, false
		case "L+":
			rd.Type = storagepb.ReplicaType_LEARNER
		case "V-":
			caught = false
		}
		if node == self {
			info.ReplicaID = rd.ReplicaId
		}
		d.Replicas = append(d.Replicas, rd)
		if caught {
			info.Progress[rd.ReplicaId] = rangegroup.ReplicaProgress{Match: testCommit, State: "replicate", RecentActive: true}
		} else {
			info.Progress[rd.ReplicaId] = rangegroup.ReplicaProgress{State: "snapshot", RecentActive: true}
		}
	}
	d.NextReplicaId = uint64(len(reps) + 1)
	return info
}

// names lists members' names.
func names(ms []Member) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// changesString renders replica changes compactly: "+n4 ^n4 -n1".
func changesString(cs []rangegroup.ReplicaChange) string {
	var parts []string
	for _, c := range cs {
		prefix := map[rangegroup.ChangeType]string{rangegroup.AddLearner: "+", rangegroup.PromoteLearner: "^", rangegroup.RemoveReplica: "-"}[c.Type]
		parts = append(parts, prefix+c.Node)
	}
	return strings.Join(parts, " ")
}

// replicaSet renders a descriptor's replicas, sorted: "n1 n2 n3:L".
func replicaSet(d *storagepb.RangeDescriptor) string {
	var parts []string
	for _, rd := range d.GetReplicas() {
		s := rd.Node
		if rd.Type == storagepb.ReplicaType_LEARNER {
			s += ":L"
		}
		parts = append(parts, s)
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func describe(d *storagepb.RangeDescriptor) string {
	return fmt.Sprintf("r%d (%d, %d] gen %d [%s]", d.GetRangeId(), d.GetStart(), d.GetEnd(), d.GetGeneration(), replicaSet(d))
}
