package ring

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/concord-kv/concord/ring/ringpb"
)

// rpcServer answers the ring protocol for a Node. Handlers hold the node's
// mutex only briefly and never make outgoing calls.
type rpcServer struct {
	ringpb.UnimplementedRingServer
	n *Node
}

func (s *rpcServer) State(_ context.Context, req *ringpb.StateRequest) (*ringpb.StateReply, error) {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := fromPB(req.GetRectify()); ok && n.phase == phaseMember {
		n.considerPredLocked(c)
	}
	rep := &ringpb.StateReply{
		Self:       toPB(n.self),
		Member:     n.phase == phaseMember,
		Successors: toPBList(n.succs),
	}
	if n.hasPred {
		rep.Predecessor = toPB(n.pred)
	}
	return rep, nil
}

func (s *rpcServer) Rectify(_ context.Context, req *ringpb.RectifyRequest) (*ringpb.RectifyReply, error) {
	c, ok := fromPB(req.GetCandidate())
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "rectify: no candidate")
	}
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.phase == phaseMember {
		n.considerPredLocked(c)
	}
	return &ringpb.RectifyReply{Self: toPB(n.self)}, nil
}

func (s *rpcServer) FindSuccessor(_ context.Context, req *ringpb.FindRequest) (*ringpb.FindReply, error) {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.phase != phaseMember {
		return nil, status.Error(codes.FailedPrecondition, "find successor: node is not a ring member")
	}
	next, done := n.stepLocked(req.GetId(), req.GetExclude())
	return &ringpb.FindReply{Self: toPB(n.self), Done: done, Next: toPB(next)}, nil
}

func (s *rpcServer) Leave(_ context.Context, req *ringpb.LeaveRequest) (*ringpb.LeaveReply, error) {
	leaving, ok := fromPB(req.GetLeaving())
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "leave: no leaving node")
	}
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.phase != phaseMember {
		return &ringpb.LeaveReply{}, nil
	}
	// As the leaver's successor: inherit its arc.
	if p, ok := fromPB(req.GetPredecessor()); ok && n.hasPred && n.pred.same(leaving) {
		if p.Id == n.self.Id {
			n.hasPred = false
		} else {
			n.setPredLocked(p)
		}
	}
	// As the leaver's predecessor: splice its successors in where it stood.
	if i := slices.IndexFunc(n.succs, leaving.same); i >= 0 {
		list := append(slices.Clone(n.succs[:i]), fromPBList(req.GetSuccessors())...)
		list = append(list, n.succs[i+1:]...)
		n.setSuccessorsLocked(list)
	}
	n.forgetLocked(leaving, false)
	n.emitLocked()
	return &ringpb.LeaveReply{}, nil
}
