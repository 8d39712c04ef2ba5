package ring

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// stabilizeLoop runs a stabilization round every StabilizeInterval until the
// node stops. It is the node's only periodic goroutine.
func (n *Node) stabilizeLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.StabilizeInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.Stabilize(n.ctx)
		}
	}
}

// Stabilize runs one stabilization round now: repair the successor list
// (Zave's stabilize with the Stabilize2 step), rectify the successor, check
// the predecessor, refresh one finger and consider closer peers. The
// background loop calls it every StabilizeInterval; with a negative interval
// the owner calls it instead.
func (n *Node) Stabilize(ctx context.Context) {
	if !n.IsMember() {
		return
	}
	n.stabilize(ctx)
	n.checkPredecessor(ctx)
	n.considerPeers(ctx)
	n.fixFinger(ctx)
	n.stats.stabilizeRounds.Add(1)
}

// stabilize asks the first successor that answers for its predecessor and
// successor list, rectifying it in the same RPC. The new list is that successor followed by its list,
// unless the successor's predecessor lies between this node and it and
// answers too (Stabilize2): then that node and its list. Successors that do
// not answer are dropped one by one. A node with no successor looks at its
// predecessor instead, which is how a ring of one grows to two.
func (n *Node) stabilize(ctx context.Context) {
	for ctx.Err() == nil {
		n.mu.Lock()
		first, ok := n.firstSuccLocked()
		pred, hasPred := n.pred, n.hasPred
		n.mu.Unlock()
		if !ok {
			if hasPred {
				n.adoptIfCloser(ctx, pred)
			}
			return
		}
		// The query rectifies first at once: it is our successor as far as
		// we know, so we may be its predecessor.
		st, err := n.checkedState(ctx, first, true)
		if err == nil && !st.member {
			err = errors.New("no longer a ring member")
		}
		if err != nil {
			if ctx.Err() != nil || n.toleratesTimeout(first, err) {
				return
			}
			n.cfg.log.Debug("successor unreachable, dropping it", "name", n.self.Name, "successor", first.String(), "err", err)
			n.dropSuccessor(first)
			n.pool.Drop(first.Address)
			continue
		}
		n.mu.Lock()
		n.succTimeouts = 0
		n.mu.Unlock()
		next, list := first, st.succs
		if p, ok := st.pred(); ok && p.Id != n.self.Id && between(n.self.Id, p.Id, first.Id) {
			if ps, err := n.stateOf(ctx, p); err == nil && ps.member {
				next, list = p, ps.succs
			}
		}
		n.mu.Lock()
		if n.phase == phaseMember {
			n.setSuccessorsLocked(append([]Server{next}, list...))
			n.emitLocked()
		}
		n.mu.Unlock()
		if !next.same(first) {
			n.rectify(ctx, next)
		}
		return
	}
}

// toleratesTimeout reports whether the first successor s gets another
// round before it is dropped: a single timed-out RPC is as likely an
// overloaded peer or node as a dead one, and dropping live successors on
// false suspicion is what breaks Chord (an emptied list makes a node adopt
// its predecessor and form a small cycle). A second consecutive timeout, or
// any definite failure (refused, another process at the address, not a
// member), drops it; gossip failure detection (MarkFailed) is faster still.
// The last successor is never dropped on timeouts alone.
func (n *Node) toleratesTimeout(s Server, err error) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if status.Code(err) != codes.DeadlineExceeded {
		return false
	}
	if len(n.succs) == 1 {
		// Never empty the list on a timeout alone (see forgetLocked); a
		// dead last successor refuses or is reported by gossip, and a
		// better one is adopted from Peers.
		return true
	}
	if n.succTimeouts == 0 || !n.succTimedOut.same(s) {
		n.succTimedOut, n.succTimeouts = s, 1
		return true
	}
	n.succTimeouts = 0
	return false
}

// dropSuccessor removes s from the successor list if it is still there.
func (n *Node) dropSuccessor(s Server) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, o := range n.succs {
		if o.same(s) {
			list := append(append([]Server(nil), n.succs[:i]...), n.succs[i+1:]...)
			n.setSuccessorsLocked(list)
			if len(list) == 0 {
				n.cfg.log.Warn("successor list exhausted", "name", n.self.Name)
			}
			n.emitLocked()
			return
		}
	}
}

// adoptIfCloser makes c the first successor if it lies between this node
// and its current successor (or the node has none) and c answers as a ring
// member. Its list follows it.
func (n *Node) adoptIfCloser(ctx context.Context, c Server) {
	if !n.closerSuccessor(c) {
		return
	}
	st, err := n.stateOf(ctx, c)
	if err != nil || !st.member {
		return
	}
	n.mu.Lock()
	adopted := n.phase == phaseMember && n.closerSuccessorLocked(c)
	if adopted {
		n.setSuccessorsLocked(append([]Server{c}, append(st.succs, n.succs...)...))
		n.emitLocked()
	}
	n.mu.Unlock()
	if adopted {
		n.rectify(ctx, c)
	}
}

func (n *Node) closerSuccessor(c Server) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closerSuccessorLocked(c)
}

func (n *Node) closerSuccessorLocked(c Server) bool {
	if c.Id == n.self.Id {
		return false
	}
	first, ok := n.firstSuccLocked()
	return !ok || between(n.self.Id, c.Id, first.Id)
}

// checkPredecessor forgets a predecessor that has been silent for two of
// this node's rounds and does not answer now, so a live candidate can take
// its place (Zave's rectify adopts a candidate when the predecessor is
// dead). A predecessor proves itself alive by rectifying this node every
// round, so the check costs no RPC in a healthy ring.
func (n *Node) checkPredecessor(ctx context.Context) {
	n.mu.Lock()
	pred, has := n.pred, n.hasPred
	n.predSilent++
	fresh := n.predSilent <= 2
	n.mu.Unlock()
	if !has || fresh {
		return
	}
	_, err := n.stateOf(ctx, pred)
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.hasPred || !n.pred.same(pred) {
		return
	}
	if err == nil {
		n.predSilent = 0
		return
	}
	n.cfg.log.Debug("predecessor unreachable, forgetting it", "name", n.self.Name, "predecessor", pred.String(), "err", err)
	n.hasPred = false
	n.emitLocked()
}

// considerPeers adopts the closest peer named by Config.Peers as successor
// if it is closer than the current one. This merges rings split by a
// partition and lets an isolated node find the ring again.
func (n *Node) considerPeers(ctx context.Context) {
	if n.cfg.Peers == nil {
		return
	}
	var best Server
	var bestDist uint64
	found := false
	for _, p := range n.cfg.Peers() {
		if p.Id == n.self.Id {
			continue
		}
		if d := distance(n.self.Id, p.Id, n.cfg.bits); !found || d < bestDist {
			best, bestDist, found = p, d, true
		}
	}
	if found {
		n.adoptIfCloser(ctx, best)
	}
}
