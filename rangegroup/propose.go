package rangegroup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/rangegroup/rgpb"
)

// Errors of replica administration.
var (
	// ErrInvalidChange: a replica change that does not fit the range's
	// current replica set.
	ErrInvalidChange = errors.New("invalid replica change")
	// ErrInvalidSplit: a split key outside the range, or at its end.
	ErrInvalidSplit = errors.New("invalid split")
)

// MaxCommandSize bounds one encoded write request: a bulk put of 500
// values of 1 MiB each would otherwise be one 500 MiB Raft entry.
const MaxCommandSize = 32 << 20

// Write replicates a write request through the range's Raft log and returns
// the state machine's response once the command is applied on this node.
// It must reach the leader: other replicas answer with a NotLeaderError.
// Bad input is rejected before anything is proposed.
func (s *Store) Write(ctx context.Context, rangeID uint64, req *kvpb.Request) (*kvpb.Response, error) {
	if err := s.cfg.Machine.Limits.Validate(req); err != nil {
		return nil, err
	}
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	if len(data) > MaxCommandSize {
		return nil, fmt.Errorf("request of %d bytes exceeds %d: %w", len(data), MaxCommandSize, kv.ErrBatchTooLarge)
	}
	r, err := s.replica(rangeID)
	if err != nil {
		return nil, err
	}
	if err := r.checkNotFrozen(); err != nil {
		return nil, err
	}
	res, err := r.propose(ctx, func(c *rgpb.Command) { c.Op = &rgpb.Command_Kv{Kv: data} })
	if err != nil {
		return nil, err
	}
	resp, _ := res.(*kvpb.Response)
	if resp == nil {
		return nil, fmt.Errorf("range %d: write produced no response", rangeID)
	}
	if resp.GetCode() == kvpb.ErrorCode_RANGE_MISMATCH {
		r.mu.Lock()
		d := r.descriptorLocked()
		r.mu.Unlock()
		return nil, &RangeMismatchError{Descriptor: d, err: kv.ErrRangeMismatch}
	}
	return resp, nil
}

// checkNotFrozen refuses changes to a range frozen for a merge. The
// refusal is unavailability: the caller retries, and finds the keys in the
// merged range, or in this one again if the merge is undone.
func (r *replica) checkNotFrozen() error {
	if r.frozen.Load() {
		return fmt.Errorf("range %d: %w: %w", r.rangeID, ErrFrozen, ErrUnavailable)
	}
	return nil
}

// propose appends a command to the range's log at the leader and waits for
// it to be applied. The command is encoded here, outside any replica lock,
// and buffered; the range's worker proposes it (or fails it when this
// replica does not lead) in its next pass.
func (r *replica) propose(ctx context.Context, fill func(*rgpb.Command)) (any, error) {
	id := r.store.proposalID()
	cmd := &rgpb.Command{Id: id, Stamp: r.store.cfg.Now().UnixNano()}
	fill(cmd)
	data, err := proto.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	p := &proposal{done: make(chan proposalResult, 1)}
	proposed := time.Now()
	if err := r.addProposal(bufferedCommand{ctx: ctx, cmd: cmd, data: data, p: p}); err != nil {
		return nil, err
	}
	// Buffered behind a full set of appends, the command goes to Raft in
	// the pass that the next append's delivery schedules: the buffer was
	// written before appendsFull was read, and the delivery clears
	// appendsFull before it schedules that pass.
	if !r.appendsFull.Load() {
		r.store.sched.enqueue(r.rangeID)
	}
	resp, err := r.wait(ctx, id, p)
	if err == nil {
		r.store.metrics.commitLatency.Observe(time.Since(proposed).Seconds())
	}
	return resp, err
}

// wait blocks until proposal id is applied or ctx ends. A proposal whose
// outcome is unknown when ctx ends may still be applied later.
func (r *replica) wait(ctx context.Context, id uint64, p *proposal) (any, error) {
	select {
	case res := <-p.done:
		return res.resp, res.err
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.proposals, id)
		r.mu.Unlock()
		return nil, fmt.Errorf("range %d: %w", r.rangeID, ctxErr(ctx))
	}
}

// lostLeadershipLocked is called when this replica stops being the leader.
// Pending proposals stay: the new leader may still commit them, and their
// waiters time out if it does not.
func (r *replica) lostLeadershipLocked() {
	r.lastHeard = make(map[uint64]time.Time)
}

// failWaitersLocked answers every waiter with err, including commands
// still buffered, and makes later proposals fail with it.
func (r *replica) failWaitersLocked(err error) {
	for _, bc := range r.closeProposals(err) {
		bc.p.done <- proposalResult{err: err}
	}
	for id, p := range r.proposals {
		delete(r.proposals, id)
		p.done <- proposalResult{err: err}
	}
	r.reads.failAll(err)
}
