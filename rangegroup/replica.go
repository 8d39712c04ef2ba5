package rangegroup

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
)

// replica is one node's member of one range's Raft group.
//
// Locking: inboxMu guards the inbox and propMu the proposal buffer, which
// any goroutine may append to without waiting for a worker; mu guards
// everything else. propMu is taken after mu, never before. Only the worker
// that the scheduler gave the range to calls Ready; the Store's syncer
// steps the responses of durable appends under mu.
type replica struct {
	store   *Store
	rangeID uint64

	inboxMu sync.Mutex
	inbox   []inboundMessage
	ticks   int

	propMu sync.Mutex
	props  proposalBuffer
	// appendsFull mirrors appendsInFlight >= maxAppendsInFlight for
	// writers, which read it without mu: while it is set, the delivery of
	// an append will schedule the pass that proposes what they buffered.
	appendsFull atomic.Bool
	// frozen mirrors state.FrozenFor != 0 for writers, which read it
	// without mu.
	frozen atomic.Bool

	mu        sync.Mutex
	replicaID uint64
	rn        *raft.RawNode
	log       *storage.RaftLog
	// state is the applied state; nil while the replica is uninitialized
	// (created by a message, waiting for its snapshot).
	state     *storagepb.AppliedState
	confState *raftpb.ConfState
	leaderID  uint64
	term      uint64
	destroyed bool

	proposals map[uint64]*proposal
	reads     readQueue
	// lastHeard is when each peer replica last sent this replica anything:
	// the leader's lease rests on it.
	lastHeard map[uint64]time.Time
	// snapshotsOut are the peers a snapshot is being streamed to.
	snapshotsOut map[uint64]bool
	// snapshotIn is a received snapshot waiting for Raft to accept it.
	snapshotIn *incomingSnapshot
	// q is the replica's quiescence (quiesce.go).
	q quiesceState
	// staged is this pass's appended entries applied ahead of their
	// commit (stage.go), or nil.
	staged *stagedApply
	// appendsInFlight counts this replica's appends committed to the engine
	// whose responses the syncer has not delivered yet.
	appendsInFlight int
	// truncatedTo is the index the log was last truncated to.
	truncatedTo uint64
	// peerNodes names the nodes of replica ids this replica heard from;
	// an uninitialized replica has no descriptor to look them up in.
	peerNodes map[uint64]string
	// stampAppliedAt is when the applied state's Stamp last advanced here,
	// on the monotonic clock.
	stampAppliedAt time.Time
	// leaderChanged is closed and replaced whenever leaderID changes.
	leaderChanged chan struct{}
	// supersededBy is a higher replica id of this range addressed to this
	// node; supersededInbox holds the messages that arrived meanwhile.
	supersededBy    uint64
	supersededInbox []inboundMessage
	// createdAt is when an uninitialized replica was created, for garbage
	// collection of replicas that never became members.
	createdAt time.Time
	// parked are committed entries waiting for this node's replica of a
	// range being merged into this one (see merge.go); forceApplyTo is the
	// index through which a Merge proved this replica's log committed.
	parked       []*raftpb.Entry
	forceApplyTo uint64
	// parkedResps are Raft's apply responses held while entries are
	// parked (see stepApplied).
	parkedResps []*raftpb.Message
}

type inboundMessage struct {
	msg  *raftpb.Message
	from string // node name
	at   time.Time
}

// proposal is a caller waiting for its command to be applied.
type proposal struct {
	done chan proposalResult // buffered(1)
}

type proposalResult struct {
	resp any // *kvpb.Response, or nil for admin commands
	err  error
}

// setStateLocked installs a new applied state (nil: uninitialized).
func (r *replica) setStateLocked(state *storagepb.AppliedState) {
	r.state = state
	r.frozen.Store(state.GetFrozenFor() != 0)
}

// newReplica makes the replica of rangeID with Raft id replicaID over the
// engine's stored state. state is nil for an uninitialized replica.
func (s *Store) newReplica(rangeID, replicaID uint64, state *storagepb.AppliedState) (*replica, error) {
	log, err := s.cfg.Engine.RaftLog(rangeID)
	if err != nil {
		return nil, fmt.Errorf("range %d: open raft log: %w", rangeID, err)
	}
	r := &replica{
		store:         s,
		rangeID:       rangeID,
		replicaID:     replicaID,
		log:           log,
		state:         state,
		proposals:     make(map[uint64]*proposal),
		lastHeard:     make(map[uint64]time.Time),
		snapshotsOut:  make(map[uint64]bool),
		peerNodes:     make(map[uint64]string),
		leaderChanged: make(chan struct{}),
	}
	r.setStateLocked(state)
	var applied uint64
	if state != nil {
		applied = state.Index
		cs, err := storage.DecodeConfState(state.ConfState)
		if err != nil {
			return nil, fmt.Errorf("range %d: %w", rangeID, err)
		}
		r.confState = cs
		r.stampAppliedAt = time.Now()
	} else {
		r.confState = &raftpb.ConfState{}
	}
	hs, _, err := log.InitialState()
	if err != nil {
		return nil, fmt.Errorf("range %d: %w", rangeID, err)
	}
	r.term = hs.GetTerm()
	first, err := log.FirstIndex()
	if err != nil {
		return nil, fmt.Errorf("range %d: %w", rangeID, err)
	}
	r.truncatedTo = first - 1
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        replicaID,
		ElectionTick:              s.cfg.ElectionTicks,
		HeartbeatTick:             1,
		Storage:                   log,
		Applied:                   applied,
		MaxSizePerMsg:             1 << 20,
		MaxCommittedSizePerReady:  64 << 20,
		MaxUncommittedEntriesSize: 64 << 20,
		MaxInflightMsgs:           maxInflightMsgs,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		AsyncStorageWrites:        true,
		Logger:                    raftLogger{s.cfg.Logger.With("range", rangeID)},
	})
	if err != nil {
		return nil, fmt.Errorf("range %d: start raft: %w", rangeID, err)
	}
	r.rn = rn
	if state != nil {
		s.watch.start(rangeID, appliedRevision(state))
	}
	return r, nil
}

// maxInflightMsgs bounds the appends a leader has in flight to one
// follower before it waits for acknowledgements.
const maxInflightMsgs = 256

// descriptor returns the replica's range descriptor, nil if uninitialized.
// Callers hold r.mu.
func (r *replica) descriptorLocked() *storagepb.RangeDescriptor {
	if r.state == nil {
		return nil
	}
	return r.state.Descriptor_
}

// arc is the span of ring positions the replica serves.
func arcOf(d *storagepb.RangeDescriptor) kv.Arc {
	return kv.Arc{Start: d.GetStart(), End: d.GetEnd()}
}

// peerNodeLocked names the node of replica id: from the descriptor, else
// from where its messages came from.
func (r *replica) peerNodeLocked(id uint64) string {
	if n := nodeOf(r.descriptorLocked(), id); n != "" {
		return n
	}
	return r.peerNodes[id]
}

// nodeOf returns the node name of replica id in d, empty if absent.
func nodeOf(d *storagepb.RangeDescriptor, id uint64) string {
	for _, rd := range d.GetReplicas() {
		if rd.ReplicaId == id {
			return rd.Node
		}
	}
	return ""
}

// replicaIDOf returns the replica id node holds in d, 0 if none.
func replicaIDOf(d *storagepb.RangeDescriptor, node string) uint64 {
	for _, rd := range d.GetReplicas() {
		if rd.Node == node {
			return rd.ReplicaId
		}
	}
	return 0
}

// isDestroyed reports whether the replica has been removed.
func (r *replica) isDestroyed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.destroyed
}

// isLeaderLocked reports whether this replica leads its range.
func (r *replica) isLeaderLocked() bool {
	return r.rn != nil && r.leaderID == r.replicaID
}

// notLeaderLocked builds the error that points callers at the leader.
func (r *replica) notLeaderLocked() error {
	d := r.descriptorLocked()
	return &NotLeaderError{RangeID: r.rangeID, Leader: nodeOf(d, r.leaderID), Descriptor: d}
}

// leaseValidLocked reports whether a leader may serve reads from its local
// state: it has applied an entry of its own term (so every earlier committed
// write is applied) and a quorum of voters was heard from within half an
// election timeout. Followers reset their election timer when they hear the
// leader, and with CheckQuorum they refuse to elect anyone else for a full
// election timeout after that, so half a timeout leaves room for message
// delay. Clock jumps or a paused process break the guarantee; that is the
// documented price of the "leader" consistency level.
func (r *replica) leaseValidLocked(now time.Time) bool {
	if !r.isLeaderLocked() || r.state == nil || r.state.Term != r.term {
		return false
	}
	window := r.store.cfg.electionTimeout() / 2
	heard := 1 // the leader itself
	voters := r.confState.Voters
	for _, id := range voters {
		if id != r.replicaID && now.Sub(r.lastHeard[id]) < window {
			heard++
		}
	}
	if heard <= len(voters)/2 {
		return false
	}
	// Joint configurations need a quorum of the outgoing voters too.
	if out := r.confState.VotersOutgoing; len(out) > 0 {
		heard = 0
		for _, id := range out {
			if id == r.replicaID || now.Sub(r.lastHeard[id]) < window {
				heard++
			}
		}
		if heard <= len(out)/2 {
			return false
		}
	}
	return true
}

// stampLocked is the time a leader stamps on a command: its clock, never
// behind the state machine's clock.
func (r *replica) stampLocked() int64 {
	now := r.store.cfg.Now().UnixNano()
	if r.state != nil && r.state.Stamp > now {
		return r.state.Stamp
	}
	return now
}

// readClockLocked is the time a read judges expiry by. A leader uses its
// stamp clock. Any other replica uses the leader's clock as the log
// carried it, advanced by its own monotonic clock since it applied that
// stamp: its wall clock may be skewed, and expiry must mean the same on
// every replica. The estimate trails the leader's clock by the replication
// delay, so a follower may show an expired key a little late, never early.
func (r *replica) readClockLocked() int64 {
	if r.isLeaderLocked() || r.state == nil {
		return r.stampLocked()
	}
	return r.state.Stamp + int64(time.Since(r.stampAppliedAt))
}

// clampIndex keeps index arithmetic from wrapping below zero.
func clampSub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}
