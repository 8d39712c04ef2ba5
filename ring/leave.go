package ring

import (
	"context"
	"errors"
	"fmt"

	"github.com/concord-kv/concord/ring/ringpb"
)

// Leave hands this node's arc over and stops it: the successor inherits the
// arc (it adopts this node's predecessor) and the predecessor splices this
// node's successors into its list, so the ring is whole again without
// waiting for failure detection. The node is stopped even if a notice
// cannot be delivered; the error then says which, and the ring repairs
// itself as after a crash.
func (n *Node) Leave(ctx context.Context) error {
	n.mu.Lock()
	if n.phase != phaseMember {
		n.mu.Unlock()
		n.Stop()
		return fmt.Errorf("ring: leave: %w", ErrNotMember)
	}
	succs := append([]Server(nil), n.succs...)
	pred, hasPred := n.pred, n.hasPred
	n.mu.Unlock()

	// The successor inherits the arc; the predecessor splices in our
	// successors. In a ring of two they are one node and get one notice.
	toSucc := &ringpb.LeaveRequest{Leaving: toPB(n.self)}
	toPred := &ringpb.LeaveRequest{Leaving: toPB(n.self), Successors: toPBList(succs)}
	if hasPred {
		toSucc.Predecessor = toPB(pred)
	}
	var errs []error
	if len(succs) > 0 {
		if hasPred && pred.same(succs[0]) {
			toSucc.Successors = toPred.Successors
			hasPred = false
		}
		if err := n.sendLeave(ctx, succs[0], toSucc); err != nil {
			errs = append(errs, err)
		}
	}
	if hasPred && pred.Id != n.self.Id {
		if err := n.sendLeave(ctx, pred, toPred); err != nil {
			errs = append(errs, err)
		}
	}
	n.cfg.log.Info("left ring", "name", n.self.Name)
	n.Stop()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ring: leave: %w", err)
	}
	return nil
}
