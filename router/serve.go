package router

import (
	"context"
	"errors"
	"fmt"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/router/routerpb"
)

// forwardServer serves other nodes' Forward calls.
type forwardServer struct {
	routerpb.UnimplementedForwardServer
	r *Router
}

// Serve runs the request against this node's own replica and never sends
// it on: every outcome, including every error, is in the reply, so that a
// gRPC error always means the call itself failed.
func (s forwardServer) Serve(ctx context.Context, req *routerpb.ServeRequest) (*routerpb.ServeReply, error) {
	o, err := decodeOp(req)
	if err != nil {
		return encodeReply(nil, err), nil
	}
	return encodeReply(s.r.serve(ctx, req.GetRangeId(), req.GetPosition(), req.GetGeneration(), o)), nil
}

// serve runs o against this node's replica of rangeID or, when rangeID is
// 0, its replica whose span holds pos. The reply names the serving range
// and its leader, and carries its descriptor when the caller's generation
// gen differs (or the caller named no range, or an error needs it), also
// when err is not nil. A write error that does not prove the write was not
// applied is returned as an unknownOutcome.
func (r *Router) serve(ctx context.Context, rangeID, pos, gen uint64, o *op) (*reply, error) {
	st := r.cfg.Store
	if st == nil {
		return r.hint(pos), fmt.Errorf("node %s holds no replicas: %w", r.cfg.Self, rangegroup.ErrRangeNotFound)
	}
	var info rangegroup.RangeInfo
	if rangeID != 0 {
		var err error
		if info, err = st.Range(rangeID); err != nil {
			return r.hint(pos), fmt.Errorf("node %s: %w", r.cfg.Self, err)
		}
	} else {
		var ok bool
		if info, ok = st.RangeFor(pos); !ok {
			return r.hint(pos), fmt.Errorf("node %s: no replica holds position %d: %w", r.cfg.Self, pos, rangegroup.ErrRangeNotFound)
		}
	}
	rep := &reply{rangeID: info.RangeID, leader: info.Leader}
	if info.Descriptor == nil {
		return rep, fmt.Errorf("node %s: range %d: replica not initialized: %w", r.cfg.Self, info.RangeID, rangegroup.ErrUnavailable)
	}
	if rangeID == 0 || info.Descriptor.GetGeneration() != gen {
		rep.desc = info.Descriptor
	}
	if o.write != nil {
		resp, err := st.Write(ctx, info.RangeID, o.write)
		if err != nil {
			rep.fill(err)
			if !notApplied(err) {
				err = &unknownOutcome{cause: err}
			}
			return rep, err
		}
		r.metrics.served.WithLabelValues("write").Inc()
		rep.write, rep.leader = resp, r.cfg.Self
		return rep, nil
	}
	if o.scan && !arcOf(info.Descriptor).Contains(pos) {
		// A scan names no key for the Store to check: the range must
		// hold the position the caller continues from.
		rep.desc = info.Descriptor
		return rep, mismatch(info.Descriptor, pos)
	}
	resp, err := st.Read(ctx, info.RangeID, o.level, o.read)
	if err != nil {
		rep.fill(err)
		return rep, err
	}
	r.metrics.served.WithLabelValues(o.level.String()).Inc()
	rep.read = resp
	return rep, nil
}

// fill copies what a Store error says about the range into the reply.
func (rep *reply) fill(err error) {
	var nl *rangegroup.NotLeaderError
	var rm *rangegroup.RangeMismatchError
	switch {
	case errors.As(err, &nl):
		rep.leader = nl.Leader
		if nl.Descriptor != nil {
			rep.desc = nl.Descriptor
		}
	case errors.As(err, &rm):
		if rm.Descriptor != nil {
			rep.desc = rm.Descriptor
		}
	}
}

// notApplied reports whether a Store's write error proves that the write
// was not applied: it was refused before it was proposed (not the leader,
// invalid input, proposal dropped by Raft), or was applied as a no-op
// (range mismatch). The replica existed when the write began, so "range
// not found" or "stopped" now may mean it was removed, or the Store
// closed, while the proposal was pending: unknown.
func notApplied(err error) bool {
	var nl *rangegroup.NotLeaderError
	switch {
	case errors.As(err, &nl), errors.Is(err, kv.ErrRangeMismatch), errors.Is(err, rangegroup.ErrUnavailable):
		return true
	}
	return errorKind(err) == routerpb.ErrorKind_KV
}

// hint is what this node's cache knows of the range holding pos, offered
// with a "range not found" answer so the caller need not ask the ring.
func (r *Router) hint(pos uint64) *reply {
	e, ok := r.cache.lookup(pos)
	if !ok {
		return nil
	}
	return &reply{rangeID: e.desc.GetRangeId(), desc: e.desc, leader: e.leader}
}
