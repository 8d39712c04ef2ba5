package rangegroup

import (
	"errors"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/concord-kv/concord/storage"
)

// Applying ahead of commit.
//
// A range whose only voter is this node's replica, and which this replica
// leads, commits each entry it appends as soon as the append is durable
// here: no other replica's log counts, and no other leader can arise
// without a configuration change, which is itself an entry of the log. The
// state machine is deterministic, and the entries will be applied on the
// state this replica has applied when they were appended. So the worker
// applies them into a batch of their own right after handing their append
// to the syncer, while the fsync runs, and the pass that finds them
// committed only commits that batch and answers their writers. Without
// this, the apply ran between the fsync and the answers, and writers
// answered late missed the next append and waited a whole fsync more.
//
// Invariants:
//   - a staged batch is committed only when Raft hands over as committed
//     exactly the staged entries (same indexes and terms, hence the same
//     entries) and the applied state is still the one they were staged on;
//     anything else (a snapshot, parked or deferred entries, entries split
//     over several Readys, a lost leadership) discards it, and the
//     committed entries are applied as usual;
//   - nothing staged is visible before it is committed: readers and
//     watchers see the engine and the published state only;
//   - only key-value commands are staged. They read and write only keys of
//     the range's own span, which nothing but this range's apply writes
//     while its state stays the same (see above); commands that reshape
//     ranges or replicas are never staged.

// errNotStageable stops applying ahead at an entry that is not a key-value
// command.
var errNotStageable = errors.New("entry is not applied ahead of its commit")

// stagedApply is a replica's latest appended entries applied ahead of their
// commit.
type stagedApply struct {
	ents []*raftpb.Entry
	b    *storage.Batch
	res  *applyResult
}

// stage applies ents, the entries this pass appended, ahead of their
// commit when the range qualifies. Only the range's worker calls it.
func (r *replica) stage(ents []*raftpb.Entry) {
	if len(ents) == 0 {
		return
	}
	r.mu.Lock()
	ok := r.staged == nil && r.stageableLocked(ents[0].GetIndex())
	r.mu.Unlock()
	if !ok {
		return
	}
	b := r.store.cfg.Engine.NewBatch()
	res, err := r.applyEntries(b, ents, true)
	// The batch waits, possibly for long, to be committed or dropped; it
	// must not pin the engine's files meanwhile.
	b.ReleaseReads()
	if err != nil || len(res.parked) > 0 {
		b.Close()
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.destroyed || r.state != res.base {
		b.Close()
		return
	}
	r.staged = &stagedApply{ents: ents, b: b, res: res}
}

// stageableLocked reports whether entries from index first on may be
// applied ahead of their commit: this replica leads its range alone, has
// applied everything before first, and has nothing parked.
func (r *replica) stageableLocked(first uint64) bool {
	if r.destroyed || r.state == nil || r.state.Index+1 != first || r.state.FrozenFor != 0 ||
		len(r.parked) > 0 || !r.isLeaderLocked() || r.confState == nil {
		return false
	}
	cs := r.confState
	return len(cs.Voters) == 1 && cs.Voters[0] == r.replicaID && len(cs.VotersOutgoing) == 0
}

// takeStaged returns the staged apply of ents, the committed entries about
// to be applied, or nil when nothing staged matches them; a staged apply
// that does not match is dropped.
func (r *replica) takeStaged(ents []*raftpb.Entry) *stagedApply {
	r.mu.Lock()
	st := r.staged
	r.staged = nil
	match := st != nil && !r.destroyed && r.state == st.res.base && sameEntries(st.ents, ents)
	r.mu.Unlock()
	if st == nil {
		return nil
	}
	if !match {
		st.b.Close()
		r.store.metrics.stagedDropped.Inc()
		return nil
	}
	r.store.metrics.stagedApplied.Inc()
	return st
}

// sameEntries reports whether a and b hold entries of the same indexes and
// terms, which in one Raft group means the same entries.
func sameEntries(a, b []*raftpb.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].GetIndex() != b[i].GetIndex() || a[i].GetTerm() != b[i].GetTerm() {
			return false
		}
	}
	return true
}
