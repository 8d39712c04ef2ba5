package rangegroup

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
	"github.com/concord-kv/concord/transport/raftwire"
)

// Store owns every range replica on a node.
type Store struct {
	cfg Config

	mu       sync.RWMutex
	replicas map[uint64]*replica
	closed   bool
	// readGate is held shared by reads of the engine made on callers'
	// goroutines while they use it; Close takes it exclusively to set
	// readsClosed, so the engine may be closed as soon as Close returns.
	readGate    sync.RWMutex
	readsClosed bool // guarded by readGate

	metrics *metrics
	sched   *scheduler
	watch   *watchHub
	syncs   *syncer
	stopc   chan struct{}
	wg      sync.WaitGroup
	nextID  atomic.Uint64
	heard   nodesHeard
	// tickRounds counts the tick loop's rounds.
	tickRounds atomic.Uint64
}

// NewStore opens the replicas whose state is in cfg.Engine (restart
// recovery) and starts the scheduler and the ticker.
func NewStore(cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:      cfg,
		replicas: make(map[uint64]*replica),
		sched:    newScheduler(64),
		watch:    newWatchHub(cfg.WatchHistoryEvents, cfg.WatchHistoryBytes),
		stopc:    make(chan struct{}),
	}
	// Proposal ids only need to be unique among this process's waiters;
	// a random start keeps a restarted node from matching an old entry
	// that is re-applied from the log to a new waiter.
	s.nextID.Store(rand.Uint64() >> 1)
	s.metrics = newMetrics(s, cfg.Registerer)
	if err := s.load(); err != nil {
		return nil, err
	}
	s.syncs = newSyncer(s)
	s.sched.start(cfg.Workers, s.process)
	s.wg.Add(2)
	go s.tickLoop()
	go s.sweepLoop()
	ids := s.rangeIDs()
	s.sched.enqueueAll(ids)
	return s, nil
}

// load creates a replica for every initialized range in the engine.
// Uninitialized replicas (a hard state but no applied state) are removed:
// they never held data, and as learners-to-be they never voted.
func (s *Store) load() error {
	ids, err := s.cfg.Engine.RangeIDs()
	if err != nil {
		return fmt.Errorf("rangegroup: list ranges: %w", err)
	}
	var states []*storagepb.AppliedState
	for _, id := range ids {
		state, ok, err := s.cfg.Engine.AppliedState(id)
		if err != nil {
			return fmt.Errorf("rangegroup: range %d: %w", id, err)
		}
		if !ok || replicaIDOf(state.GetDescriptor_(), s.cfg.NodeName) == 0 {
			if err := s.destroyStored(id, state.GetDescriptor_()); err != nil {
				return err
			}
			continue
		}
		states = append(states, state)
	}
	states, err = s.dropSuperseded(states)
	if err != nil {
		return err
	}
	for _, state := range states {
		d := state.Descriptor_
		r, err := s.newReplica(d.RangeId, replicaIDOf(d, s.cfg.NodeName), state)
		if err != nil {
			return err
		}
		s.replicas[d.RangeId] = r
	}
	return nil
}

// dropSuperseded removes, from the ranges found on disk, any whose span a
// range of newer generation overlaps: a merged RHS whose own apply wrote
// its state after its LHS's merge had deleted it. Its range-local state is
// deleted; its data is the newer range's. Ranges on disk tile part of the
// circle, so an overlap shows between neighbours in End order.
func (s *Store) dropSuperseded(states []*storagepb.AppliedState) ([]*storagepb.AppliedState, error) {
	sort.Slice(states, func(i, j int) bool { return states[i].Descriptor_.End < states[j].Descriptor_.End })
	drop := make(map[uint64]bool)
	for i := 1; i < len(states); i++ {
		a, b := states[i-1].Descriptor_, states[i].Descriptor_
		if !arcOf(a).Overlaps(arcOf(b)) {
			continue
		}
		old := a
		if a.Generation > b.Generation {
			old = b
		}
		drop[old.RangeId] = true
	}
	if len(drop) == 0 {
		return states, nil
	}
	kept := states[:0]
	for _, st := range states {
		id := st.Descriptor_.RangeId
		if !drop[id] {
			kept = append(kept, st)
			continue
		}
		span := storage.RangeLocalSpan(id)
		b := s.cfg.Engine.NewBatch()
		err := b.DeleteRange(span.Start, span.End)
		if err == nil {
			err = b.Commit(true)
		}
		b.Close()
		if err != nil {
			return nil, fmt.Errorf("rangegroup: drop superseded range %d: %w", id, err)
		}
		s.cfg.Logger.Info("range superseded on disk", "range", id)
	}
	return kept, nil
}

// destroyStored deletes what the engine holds of a range this node is not
// a member of: its range-local keys, and the user data of its arc unless a
// live replica of this node overlaps that arc (its data is then not ours to
// delete). d may be nil when the range never got a descriptor.
func (s *Store) destroyStored(rangeID uint64, d *storagepb.RangeDescriptor) error {
	b := s.cfg.Engine.NewBatch()
	defer b.Close()
	if err := s.stageDestroy(b, rangeID, d); err != nil {
		return err
	}
	return b.Commit(true)
}

// stageDestroy stages the deletions of destroyStored in b.
func (s *Store) stageDestroy(b *storage.Batch, rangeID uint64, d *storagepb.RangeDescriptor) error {
	if d == nil || s.overlapsLive(rangeID, arcOf(d)) {
		span := storage.RangeLocalSpan(rangeID)
		if err := b.DeleteRange(span.Start, span.End); err != nil {
			return fmt.Errorf("rangegroup: destroy range %d: %w", rangeID, err)
		}
		return nil
	}
	if err := s.cfg.Engine.DestroyRange(b, d); err != nil {
		return fmt.Errorf("rangegroup: destroy range %d: %w", rangeID, err)
	}
	return nil
}

// overlapsLive reports whether an initialized replica other than rangeID
// serves any position of a.
func (s *Store) overlapsLive(rangeID uint64, a kv.Arc) bool {
	return len(s.liveOverlapping(rangeID, a)) > 0
}

// liveOverlapping lists the initialized, live replicas other than rangeID
// that serve a position of a, with their descriptors.
func (s *Store) liveOverlapping(rangeID uint64, a kv.Arc) map[*replica]*storagepb.RangeDescriptor {
	out := make(map[*replica]*storagepb.RangeDescriptor)
	for _, r := range s.replicaList() {
		if r.rangeID == rangeID {
			continue
		}
		r.mu.Lock()
		d := r.descriptorLocked()
		dead := r.destroyed
		r.mu.Unlock()
		if d != nil && !dead && a.Overlaps(arcOf(d)) {
			out[r] = d
		}
	}
	return out
}

// Close stops the workers and the ticker; replicas stay on disk. Waiting
// callers get ErrStopped.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.readGate.Lock()
	s.readsClosed = true
	s.readGate.Unlock()
	close(s.stopc)
	s.wg.Wait()
	s.sched.stop()
	s.syncs.stop()
	s.watch.stop()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.replicas {
		r.mu.Lock()
		r.failWaitersLocked(ErrStopped)
		r.mu.Unlock()
	}
	return nil
}

func (s *Store) tickLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.TickInterval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-s.stopc:
			return
		case <-t.C:
		}
		if n%collectEveryTicks == 0 {
			s.collectUninitialized(collectAfterElections * s.cfg.electionTimeout())
		}
		s.tick()
	}
}

func (s *Store) rangeIDs() []uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]uint64, 0, len(s.replicas))
	for id := range s.replicas {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// replicaList snapshots the Store's replicas, so that callers can visit
// them without holding s.mu while they take each replica's lock.
func (s *Store) replicaList() []*replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rs := make([]*replica, 0, len(s.replicas))
	for _, r := range s.replicas {
		rs = append(rs, r)
	}
	return rs
}

// lockLeader returns the range's replica with its mu held, or a
// NotLeaderError (mu released) when this replica does not lead.
func (s *Store) lockLeader(rangeID uint64) (*replica, error) {
	r, err := s.replica(rangeID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if !r.isLeaderLocked() {
		err := r.notLeaderLocked()
		r.mu.Unlock()
		return nil, err
	}
	return r, nil
}

func (s *Store) replica(rangeID uint64) (*replica, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrStopped
	}
	r, ok := s.replicas[rangeID]
	if !ok {
		return nil, fmt.Errorf("range %d: %w", rangeID, ErrRangeNotFound)
	}
	return r, nil
}

// CreateRange writes the initial state of a new range whose replicas are
// d.Replicas (all voters) and starts this node's replica of it. Every node
// in d must call CreateRange with the same descriptor: this is how the
// first range of a cluster, and ranges a test places by hand, come to be.
// Their logs start at a non-zero index, so a replica added later always
// catches up by snapshot.
func (s *Store) CreateRange(d *storagepb.RangeDescriptor) error {
	replicaID := replicaIDOf(d, s.cfg.NodeName)
	if replicaID == 0 {
		return fmt.Errorf("rangegroup: create range %d: node %q is not in its descriptor", d.RangeId, s.cfg.NodeName)
	}
	if d.RangeId == 0 {
		return errors.New("rangegroup: create range: range id 0 is reserved")
	}
	var voters []uint64
	for _, rd := range d.Replicas {
		if rd.Type != storagepb.ReplicaType_VOTER {
			return fmt.Errorf("rangegroup: create range %d: replica %d is not a voter", d.RangeId, rd.ReplicaId)
		}
		voters = append(voters, rd.ReplicaId)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStopped
	}
	if _, ok := s.replicas[d.RangeId]; ok {
		return fmt.Errorf("rangegroup: create range %d: already exists", d.RangeId)
	}
	r, err := s.writeInitialState(d, voters, replicaID)
	if err != nil {
		return err
	}
	s.replicas[d.RangeId] = r
	s.sched.enqueue(d.RangeId)
	return nil
}

// Uninitialized replicas are collected when they are older than
// collectAfterElections election timeouts, checked every collectEveryTicks.
const (
	collectEveryTicks     = 100
	collectAfterElections = 20
)

// initialIndex and initialTerm are where a new range's log starts.
const (
	initialIndex = 10
	initialTerm  = 5
)

// writeInitialState persists a range's starting state and builds its
// replica. Callers hold s.mu.
func (s *Store) writeInitialState(d *storagepb.RangeDescriptor, voters []uint64, replicaID uint64) (*replica, error) {
	const index, term = initialIndex, initialTerm
	csb, err := storage.EncodeConfState(&raftpb.ConfState{Voters: voters})
	if err != nil {
		return nil, err
	}
	state := &storagepb.AppliedState{Index: index, Term: term, ConfState: csb, Descriptor_: d}
	b := s.cfg.Engine.NewBatch()
	defer b.Close()
	if err := storage.WriteInitialState(b, d.RangeId, state, &raftpb.HardState{Term: proto.Uint64(term), Commit: proto.Uint64(index)},
		&storagepb.TruncatedState{Index: index, Term: term}); err != nil {
		return nil, fmt.Errorf("rangegroup: range %d: initial state: %w", d.RangeId, err)
	}
	if err := b.Commit(true); err != nil {
		return nil, fmt.Errorf("rangegroup: range %d: initial state: %w", d.RangeId, err)
	}
	return s.newReplica(d.RangeId, replicaID, state)
}

// HandleMessages implements raftwire.Handler: it queues each message on its
// range, creating an uninitialized replica for a range this node does not
// know yet (it will receive a snapshot if it is a member).
func (s *Store) HandleMessages(from string, msgs []raftwire.Message) {
	now := time.Now()
	s.heard.note(from, now)
	touched := make([]uint64, 0, len(msgs))
	for _, m := range msgs {
		if m.RangeID == 0 {
			continue // a node's ping (quiesce.go)
		}
		r := s.replicaForMessage(m)
		if r == nil {
			continue
		}
		r.inboxMu.Lock()
		r.inbox = append(r.inbox, inboundMessage{msg: m.Msg, from: from, at: now})
		r.inboxMu.Unlock()
		touched = append(touched, m.RangeID)
	}
	s.sched.enqueueAll(touched)
}

// replicaForMessage finds the message's replica, or creates an
// uninitialized one when a message addressed to a new replica id arrives.
func (s *Store) replicaForMessage(m raftwire.Message) *replica {
	s.mu.RLock()
	r, ok := s.replicas[m.RangeID]
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil
	}
	if ok {
		return r
	}
	// Only a leader's replication traffic creates a replica: a vote request
	// or a response must never conjure one up.
	switch m.Msg.GetType() {
	case raftpb.MessageType_MsgApp, raftpb.MessageType_MsgHeartbeat, raftpb.MessageType_MsgSnap:
	default:
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.replicas[m.RangeID]; ok {
		return r
	}
	if s.closed || m.Msg.GetTo() == 0 {
		return nil
	}
	r, err := s.newReplica(m.RangeID, m.Msg.GetTo(), nil)
	if err != nil {
		s.cfg.Logger.Warn("create uninitialized replica", "range", m.RangeID, "err", err)
		return nil
	}
	r.createdAt = time.Now()
	s.replicas[m.RangeID] = r
	return r
}

// proposalID returns a fresh id for a waiter.
func (s *Store) proposalID() uint64 { return s.nextID.Add(1) }

// ctxErr maps a context's end to the package's errors.
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	}
	return ctx.Err()
}

// ReportUnreachable tells every range with a replica on node that messages
// to it are being lost, so their leaders stop optimistic pipelining to it
// and probe instead. Wired to the transport's OnUnreachable.
func (s *Store) ReportUnreachable(node string) {
	for _, r := range s.replicaList() {
		r.mu.Lock()
		if id := replicaIDOf(r.descriptorLocked(), node); id != 0 && !r.destroyed {
			r.rn.ReportUnreachable(id)
		}
		r.mu.Unlock()
	}
}
