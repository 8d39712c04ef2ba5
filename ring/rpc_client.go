package ring

import (
	"context"
	"fmt"

	"github.com/concord-kv/concord/ring/ringpb"
)

// peerState is a node's answer to State: its view of its neighbourhood.
type peerState struct {
	self     Server
	member   bool
	predNode Server
	hasPred  bool
	succs    []Server
}

func (p peerState) pred() (Server, bool) { return p.predNode, p.hasPred }

// client returns a Ring client for addr, over the node's connection pool.
func (n *Node) client(addr string) (ringpb.RingClient, error) {
	cc, err := n.pool.Conn(addr)
	if err != nil {
		return nil, err
	}
	return ringpb.NewRingClient(cc), nil
}

// rpcContext bounds one RPC by RPCTimeout within ctx.
func (n *Node) rpcContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.cfg.RPCTimeout)
}

// state asks whoever serves addr for its state.
func (n *Node) state(ctx context.Context, addr string) (peerState, error) {
	return n.stateRectify(ctx, addr, false)
}

// stateRectify is state, optionally telling the peer first that this node
// may be its predecessor.
func (n *Node) stateRectify(ctx context.Context, addr string, rectify bool) (peerState, error) {
	c, err := n.client(addr)
	if err != nil {
		return peerState{}, err
	}
	ctx, cancel := n.rpcContext(ctx)
	defer cancel()
	req := &ringpb.StateRequest{}
	if rectify {
		req.Rectify = toPB(n.self)
	}
	rep, err := c.State(ctx, req)
	if err != nil {
		return peerState{}, fmt.Errorf("state of %s: %w", addr, err)
	}
	self, ok := fromPB(rep.GetSelf())
	if !ok {
		return peerState{}, fmt.Errorf("state of %s: reply names no node", addr)
	}
	p, hasP := fromPB(rep.GetPredecessor())
	return peerState{
		self:     self,
		member:   rep.GetMember(),
		predNode: p,
		hasPred:  hasP,
		succs:    fromPBList(rep.GetSuccessors()),
	}, nil
}

// stateOf asks s for its state and checks that the answer comes from s
// itself, not from another process now using s's address.
func (n *Node) stateOf(ctx context.Context, s Server) (peerState, error) {
	return n.checkedState(ctx, s, false)
}

// checkedState is stateOf, optionally piggybacking a rectify of s.
func (n *Node) checkedState(ctx context.Context, s Server, rectify bool) (peerState, error) {
	st, err := n.stateRectify(ctx, s.Address, rectify)
	if err != nil {
		return st, err
	}
	if st.self.Name != s.Name || st.self.Id != s.Id {
		return peerState{}, fmt.Errorf("%s is now served by %s", s, st.self)
	}
	return st, nil
}

// rectify tells s that this node may be its predecessor. Failures are
// harmless: the next stabilization round tries again.
func (n *Node) rectify(ctx context.Context, s Server) {
	c, err := n.client(s.Address)
	if err != nil {
		return
	}
	ctx, cancel := n.rpcContext(ctx)
	defer cancel()
	if _, err := c.Rectify(ctx, &ringpb.RectifyRequest{Candidate: toPB(n.self)}); err != nil {
		n.cfg.log.Debug("rectify failed", "name", n.self.Name, "peer", s.String(), "err", err)
	}
}

// findStep asks s for one step of the lookup of id.
func (n *Node) findStep(ctx context.Context, s Server, id uint64, exclude []uint64) (next Server, done bool, err error) {
	c, err := n.client(s.Address)
	if err != nil {
		return Server{}, false, err
	}
	ctx, cancel := n.rpcContext(ctx)
	defer cancel()
	rep, err := c.FindSuccessor(ctx, &ringpb.FindRequest{Id: id, Exclude: exclude})
	if err != nil {
		return Server{}, false, fmt.Errorf("find %d at %s: %w", id, s, err)
	}
	if self, _ := fromPB(rep.GetSelf()); self.Name != s.Name || self.Id != s.Id {
		return Server{}, false, fmt.Errorf("find %d: %s is now served by %s", id, s, self)
	}
	next, ok := fromPB(rep.GetNext())
	if !ok {
		return Server{}, false, fmt.Errorf("find %d at %s: reply names no node", id, s)
	}
	return next, rep.GetDone(), nil
}

// sendLeave delivers a leave notice to s.
func (n *Node) sendLeave(ctx context.Context, s Server, req *ringpb.LeaveRequest) error {
	c, err := n.client(s.Address)
	if err != nil {
		return err
	}
	ctx, cancel := n.rpcContext(ctx)
	defer cancel()
	if _, err := c.Leave(ctx, req); err != nil {
		return fmt.Errorf("leave notice to %s: %w", s, err)
	}
	return nil
}
