package rangegroup

import (
	"strings"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/storage/storagepb"
)

// RangeInfo is a snapshot of one replica's view of its range.
type RangeInfo struct {
	RangeID   uint64
	ReplicaID uint64
	// Descriptor is nil while the replica is uninitialized.
	Descriptor *storagepb.RangeDescriptor
	// Leader is the leader's node name, empty when unknown.
	Leader       string
	IsLeader     bool
	Term         uint64
	AppliedIndex uint64
	// FirstIndex is the first log index still stored (truncation point + 1).
	FirstIndex uint64
	// CommitIndex is the highest log index known to be committed.
	CommitIndex uint64
	// Progress is, on the leader only, how far each replica (by replica
	// id) has replicated the log.
	Progress map[uint64]ReplicaProgress
	// FrozenFor is the range this one is frozen for merging into (0: not
	// frozen); a frozen range takes no writes until the merge completes or
	// AbortMerge undoes it.
	FrozenFor uint64
}

// ReplicaProgress is the leader's view of one replica's log.
type ReplicaProgress struct {
	// Match is the highest index known to be in the replica's log.
	Match uint64
	// State is "probe", "replicate" or "snapshot" (receiving one).
	State string
	// RecentActive: the replica was heard from within an election timeout.
	RecentActive bool
}

// CaughtUp reports whether a replica is replicating normally and holds the
// log up to within lag entries of commit.
func (p ReplicaProgress) CaughtUp(commit, lag uint64) bool {
	return p.State == "replicate" && p.Match+lag >= commit
}

// Range returns this node's view of a range.
func (s *Store) Range(rangeID uint64) (RangeInfo, error) {
	r, err := s.replica(rangeID)
	if err != nil {
		return RangeInfo{}, err
	}
	return r.info(), nil
}

// Ranges returns this node's view of every range it has a replica of,
// ordered by range id.
func (s *Store) Ranges() []RangeInfo {
	ids := s.rangeIDs()
	out := make([]RangeInfo, 0, len(ids))
	for _, id := range ids {
		if info, err := s.Range(id); err == nil {
			out = append(out, info)
		}
	}
	return out
}

func (r *replica) info() RangeInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	info := RangeInfo{
		RangeID:    r.rangeID,
		ReplicaID:  r.replicaID,
		IsLeader:   r.isLeaderLocked(),
		Term:       r.term,
		FirstIndex: r.truncatedTo + 1,
	}
	if d := r.descriptorLocked(); d != nil {
		info.Descriptor = proto.Clone(d).(*storagepb.RangeDescriptor)
		info.AppliedIndex = r.state.Index
		info.FrozenFor = r.state.FrozenFor
	}
	info.Leader = r.peerNodeLocked(r.leaderID)
	info.CommitIndex = r.rn.BasicStatus().HardState.GetCommit()
	if info.IsLeader {
		info.Progress = make(map[uint64]ReplicaProgress)
		r.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
			info.Progress[id] = ReplicaProgress{Match: pr.Match, State: strings.ToLower(strings.TrimPrefix(pr.State.String(), "State")), RecentActive: pr.RecentActive}
		})
	}
	return info
}

// RangeFor returns this node's initialized replica whose span holds ring
// position pos, if it has one.
func (s *Store) RangeFor(pos uint64) (RangeInfo, bool) {
	for _, r := range s.replicaList() {
		r.mu.Lock()
		d := r.descriptorLocked()
		ok := d != nil && !r.destroyed && arcOf(d).Contains(pos)
		r.mu.Unlock()
		if ok {
			return r.info(), true
		}
	}
	return RangeInfo{}, false
}
