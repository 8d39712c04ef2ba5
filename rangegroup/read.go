package rangegroup

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// Consistency is how fresh a read must be.
type Consistency int

const (
	// Leader reads the leader's local state while its quorum lease holds
	// (falling back to Strong when it does not). Linearizable unless clocks
	// misbehave or a process pauses longer than half an election timeout.
	Leader Consistency = iota
	// Strong confirms leadership with a ReadIndex round (shared by every
	// read waiting at the time) before reading. Linearizable. Followers
	// serve it too, asking the leader for the read index.
	Strong
	// Eventual reads this replica's local state: possibly stale, never a
	// value that was not written.
	Eventual
)

func (c Consistency) String() string {
	switch c {
	case Leader:
		return "leader"
	case Strong:
		return "strong"
	case Eventual:
		return "eventual"
	}
	return fmt.Sprintf("Consistency(%d)", int(c))
}

// Read serves a read request from this node's replica of the range at the
// given consistency.
func (s *Store) Read(ctx context.Context, rangeID uint64, level Consistency, req *kvpb.ReadRequest) (*kvpb.ReadResponse, error) {
	r, err := s.replica(rangeID)
	if err != nil {
		return nil, err
	}
	label := level.String()
	switch level {
	case Eventual:
	case Leader:
		r.mu.Lock()
		if !r.isLeaderLocked() {
			err := r.notLeaderLocked()
			r.mu.Unlock()
			return nil, err
		}
		lease := r.leaseValidLocked(time.Now())
		// Under the lease the leader's commit index is the read index: no
		// round trip, but the read must still wait for it to be applied
		// (a committed split, say, changes which keys this range serves).
		commit := r.rn.BasicStatus().HardState.GetCommit()
		r.mu.Unlock()
		if lease {
			label = "leader-lease"
			err = r.waitApplied(ctx, commit)
		} else {
			label = "leader-read-index"
			err = r.readIndex(ctx)
		}
		if err != nil {
			return nil, err
		}
	case Strong:
		if err := r.readIndex(ctx); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("consistency %d: %w", level, kv.ErrInvalidArgument)
	}
	resp, err := r.readLocal(req)
	if err == nil {
		s.metrics.reads.WithLabelValues(label).Inc()
	}
	return resp, err
}

// enterRead admits a read of the engine on the caller's goroutine, unless
// the Store is closed. Admitted, the caller holds readGate shared until it
// is done with the engine.
func (s *Store) enterRead() bool {
	s.readGate.RLock()
	if s.readsClosed {
		s.readGate.RUnlock()
		return false
	}
	return true
}

// readLocal reads the replica's applied state from a consistent engine view.
func (r *replica) readLocal(req *kvpb.ReadRequest) (*kvpb.ReadResponse, error) {
	r.mu.Lock()
	d := r.descriptorLocked()
	if d == nil || r.destroyed {
		r.mu.Unlock()
		return nil, fmt.Errorf("range %d: replica not initialized: %w", r.rangeID, ErrUnavailable)
	}
	now := r.readClockLocked()
	r.mu.Unlock()
	if !r.store.enterRead() {
		return nil, ErrStopped
	}
	defer r.store.readGate.RUnlock()
	view := r.store.cfg.Engine.NewReadView()
	defer view.Close()
	resp, err := r.store.cfg.Machine.Read(view, arcOf(d), now, req)
	if err != nil {
		return nil, fmt.Errorf("range %d: read: %w", r.rangeID, err)
	}
	if resp.GetCode() == kvpb.ErrorCode_RANGE_MISMATCH {
		return nil, &RangeMismatchError{Descriptor: d, err: kv.ErrRangeMismatch}
	}
	return resp, nil
}

// readIndex waits until this replica has applied everything committed
// before the call began. Lost ReadIndex requests (a leader change, a
// dropped message) are retried every election timeout.
func (r *replica) readIndex(ctx context.Context) error {
	retry := time.NewTimer(0)
	defer retry.Stop()
	<-retry.C
	for {
		w := &readWaiter{done: make(chan error, 1)}
		r.mu.Lock()
		if r.destroyed {
			r.mu.Unlock()
			return fmt.Errorf("range %d: %w", r.rangeID, ErrRangeNotFound)
		}
		r.reads.pending = append(r.reads.pending, w)
		r.mu.Unlock()
		r.store.sched.enqueue(r.rangeID)
		retry.Reset(2 * r.store.cfg.electionTimeout())
		select {
		case err := <-w.done:
			return err
		case <-ctx.Done():
			r.mu.Lock()
			w.finished = true
			r.mu.Unlock()
			return fmt.Errorf("range %d: read index: %w", r.rangeID, ctxErr(ctx))
		case <-retry.C:
			r.mu.Lock()
			abandoned := !w.finished
			w.finished = true
			r.mu.Unlock()
			if !abandoned {
				return <-w.done
			}
		}
	}
}

// waitApplied waits until the replica has applied index.
func (r *replica) waitApplied(ctx context.Context, index uint64) error {
	w := &readWaiter{index: index, done: make(chan error, 1)}
	r.mu.Lock()
	if r.destroyed {
		r.mu.Unlock()
		return fmt.Errorf("range %d: %w", r.rangeID, ErrRangeNotFound)
	}
	r.reads.waiting = append(r.reads.waiting, w)
	r.releaseReadsLocked()
	r.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		r.mu.Lock()
		w.finished = true
		r.mu.Unlock()
		return fmt.Errorf("range %d: wait for apply: %w", r.rangeID, ctxErr(ctx))
	}
}

// readWaiter is one read waiting for a read index and then for that index
// to be applied. Fields are guarded by the replica's mu.
type readWaiter struct {
	index    uint64
	finished bool
	done     chan error // buffered(1); receives once
}

func (w *readWaiter) finish(err error) {
	if !w.finished {
		w.finished = true
		w.done <- err
	}
}

// readQueue batches reads into ReadIndex requests: every read waiting when
// a worker processes the range shares one request.
type readQueue struct {
	pending  []*readWaiter
	inflight map[string][]*readWaiter
	waiting  []*readWaiter
}

func (q *readQueue) failAll(err error) {
	for _, w := range q.pending {
		w.finish(err)
	}
	for _, ws := range q.inflight {
		for _, w := range ws {
			w.finish(err)
		}
	}
	for _, w := range q.waiting {
		w.finish(err)
	}
	*q = readQueue{}
}

// issueReadIndexLocked sends one ReadIndex request for all pending reads.
func (r *replica) issueReadIndexLocked() {
	if len(r.reads.pending) == 0 {
		return
	}
	key := binary.BigEndian.AppendUint64(nil, r.store.proposalID())
	if r.reads.inflight == nil {
		r.reads.inflight = make(map[string][]*readWaiter)
	}
	r.reads.inflight[string(key)] = r.reads.pending
	r.reads.pending = nil
	r.store.metrics.readIndex.Inc()
	r.rn.ReadIndex(key)
}

// handleReadStatesLocked records the read indexes Raft answered with.
func (r *replica) handleReadStatesLocked(states []raft.ReadState) {
	for _, rs := range states {
		ws, ok := r.reads.inflight[string(rs.RequestCtx)]
		if !ok {
			continue
		}
		delete(r.reads.inflight, string(rs.RequestCtx))
		for _, w := range ws {
			if !w.finished {
				w.index = rs.Index
				r.reads.waiting = append(r.reads.waiting, w)
			}
		}
	}
	r.releaseReadsLocked()
}

// releaseReadsLocked lets reads whose index is applied proceed.
func (r *replica) releaseReadsLocked() {
	if r.state == nil || len(r.reads.waiting) == 0 {
		return
	}
	applied := r.state.Index
	keep := r.reads.waiting[:0]
	for _, w := range r.reads.waiting {
		switch {
		case w.finished:
		case w.index <= applied:
			w.finish(nil)
		default:
			keep = append(keep, w)
		}
	}
	clear(r.reads.waiting[len(keep):])
	r.reads.waiting = keep
}
