package rangegroup

import (
	"context"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/rgpb"
)

// proposalBuffer holds commands that writers have encoded but not yet
// handed to Raft. Writers only append to it (under its own short lock);
// the range's worker moves everything buffered into Raft in one step per
// pass. Without it every writer takes replica.mu to call Propose, and with
// many writers the worker, which needs that lock several times a pass,
// queues behind them.
type proposalBuffer struct {
	cmds []bufferedCommand
	// closed, once set, is the error every later proposal gets: the
	// replica was removed or the Store closed.
	closed error
}

// bufferedCommand is one encoded command and its waiter.
type bufferedCommand struct {
	ctx  context.Context
	cmd  *rgpb.Command
	data []byte
	p    *proposal
}

// add buffers a command, or returns the error the buffer was closed with.
func (r *replica) addProposal(bc bufferedCommand) error {
	r.propMu.Lock()
	defer r.propMu.Unlock()
	if r.props.closed != nil {
		return r.props.closed
	}
	r.props.cmds = append(r.props.cmds, bc)
	return nil
}

// closeProposals makes every later proposal fail with err and returns the
// commands still buffered.
func (r *replica) closeProposals(err error) []bufferedCommand {
	r.propMu.Lock()
	defer r.propMu.Unlock()
	cmds := r.props.cmds
	r.props.cmds = nil
	if r.props.closed == nil {
		r.props.closed = err
	}
	return cmds
}

// flushProposalsLocked hands the buffered commands to Raft as one
// proposal message and registers their waiters. Commands whose waiter is
// gone are dropped; the rest fail at once when this replica does not lead
// or Raft drops them. Callers hold r.mu and own the range's worker pass.
func (r *replica) flushProposalsLocked() {
	r.propMu.Lock()
	cmds := r.props.cmds
	r.props.cmds = nil
	r.propMu.Unlock()
	if len(cmds) == 0 {
		return
	}
	if !r.isLeaderLocked() {
		err := r.notLeaderLocked()
		for _, bc := range cmds {
			bc.p.done <- proposalResult{err: err}
		}
		return
	}
	ents := make([]*raftpb.Entry, 0, len(cmds))
	live := cmds[:0]
	for _, bc := range cmds {
		if bc.ctx.Err() != nil {
			continue // its waiter returned already
		}
		// The stamp was taken from the clock outside the lock; it must
		// not be behind the state machine's clock.
		if r.state != nil && r.state.Stamp > bc.cmd.Stamp {
			bc.cmd.Stamp = r.state.Stamp
			data, err := proto.Marshal(bc.cmd)
			if err != nil {
				bc.p.done <- proposalResult{err: fmt.Errorf("encode command: %w", err)}
				continue
			}
			bc.data = data
		}
		ents = append(ents, &raftpb.Entry{Data: bc.data})
		live = append(live, bc)
	}
	if len(live) == 0 {
		return
	}
	for _, bc := range live {
		r.proposals[bc.cmd.Id] = bc.p
	}
	r.store.metrics.proposals.Add(float64(len(live)))
	err := r.rn.Step(&raftpb.Message{Type: raftpb.MessageType_MsgProp.Enum(), From: proto.Uint64(r.replicaID), Entries: ents})
	if err != nil {
		r.store.metrics.proposalsDropped.Add(float64(len(live)))
		err = fmt.Errorf("range %d: propose: %w: %w", r.rangeID, ErrUnavailable, err)
		for _, bc := range live {
			delete(r.proposals, bc.cmd.Id)
			bc.p.done <- proposalResult{err: err}
		}
	}
}
