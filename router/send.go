package router

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/concord-kv/concord/router/routerpb"
)

// minAttempt is the shortest per-attempt bound a read gets; with less time
// left than twice this, the attempt gets all of it.
const minAttempt = 50 * time.Millisecond

// send makes one attempt: this node's Store serves it directly when the
// target is this node, otherwise one Forward call.
func (r *Router) send(ctx context.Context, t target, o *op) (*reply, error) {
	ctx, cancel := r.attemptContext(ctx, o)
	defer cancel()
	gen := t.desc.GetGeneration()
	if t.node == r.cfg.Self {
		r.metrics.forwards.WithLabelValues(forwardLocal).Inc()
		return r.serve(ctx, t.rangeID, o.pos, gen, o)
	}
	r.metrics.forwards.WithLabelValues(forwardRemote).Inc()
	return r.forward(ctx, t, gen, o)
}

// attemptContext bounds one attempt of a read by ReadAttemptTimeout and
// half of the time left, so that a replica that stopped answering leaves
// time to ask another. Writes get the whole context: one that times out
// after it was sent cannot be retried anyway.
func (r *Router) attemptContext(ctx context.Context, o *op) (context.Context, context.CancelFunc) {
	if o.write != nil {
		return ctx, func() {}
	}
	d := r.cfg.ReadAttemptTimeout
	if dl, ok := ctx.Deadline(); ok {
		half := time.Until(dl) / 2
		if half < minAttempt {
			return ctx, func() {}
		}
		d = min(d, half)
	}
	return context.WithTimeout(ctx, d)
}

// dial returns a ready connection to node; its errors are sendErrors of
// a request that was not sent.
func (r *Router) dial(ctx context.Context, node string) (*grpc.ClientConn, error) {
	addr, ok := r.cfg.Resolve(node)
	if !ok {
		return nil, &sendError{node: node, err: errors.New("no known address")}
	}
	cc, err := r.cfg.Pool.Conn(addr)
	if err != nil {
		return nil, &sendError{node: node, err: err}
	}
	if err := awaitReady(ctx, cc); err != nil {
		return nil, &sendError{node: node, err: err}
	}
	return cc, nil
}

// forward sends o to another node's Forward service.
func (r *Router) forward(ctx context.Context, t target, gen uint64, o *op) (*reply, error) {
	cc, err := r.dial(ctx, t.node)
	if err != nil {
		return nil, err
	}
	req, err := encodeOp(t.rangeID, gen, o)
	if err != nil {
		return nil, err
	}
	var p peer.Peer
	// Replies are bounded by the bulk limits, not by gRPC's 4 MiB default:
	// a get_many of large values is one message.
	out, err := routerpb.NewForwardClient(cc).Serve(ctx, req, grpc.Peer(&p), grpc.MaxCallRecvMsgSize(math.MaxInt32))
	if err != nil {
		// gRPC fills p only once the call got a stream on a connection:
		// without one the request never left this process. A node that
		// does not know the service applied nothing either.
		sent := p.Addr != nil && status.Code(err) != codes.Unimplemented
		return nil, &sendError{node: t.node, sent: sent, err: err}
	}
	rep, err := decodeReply(out, o)
	if err != nil && rep == nil {
		return nil, &sendError{node: t.node, sent: true, err: err}
	}
	return rep, err
}

// awaitReady waits until cc is connected, so that a node that cannot be
// reached is known to be before anything is sent to it: a write to it may
// then go elsewhere. It fails once a connection attempt failed, or when
// ctx ends.
func awaitReady(ctx context.Context, cc *grpc.ClientConn) error {
	for {
		s := cc.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure, connectivity.Shutdown:
			return fmt.Errorf("not connected (%v)", s)
		case connectivity.Idle:
			cc.Connect()
		}
		if !cc.WaitForStateChange(ctx, s) {
			return fmt.Errorf("not connected (%v): %w", s, ctx.Err())
		}
	}
}
