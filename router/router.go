package router

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/router/routerpb"
	"github.com/concord-kv/concord/storage/storagepb"
)

// Router routes requests to the replicas that serve them, from any node.
// It is safe for concurrent use and holds no goroutines of its own.
type Router struct {
	cfg     Config
	cache   cache
	metrics *metrics
}

// New returns a Router with an empty descriptor cache.
func New(cfg Config) (*Router, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Router{cfg: cfg, metrics: newMetrics(cfg.Registerer)}, nil
}

// Register adds the Forward service, through which other nodes' routers
// have this node serve requests from its own replicas, to s. s must accept
// requests of MaxMessageSize (see ServerOptions), or large writes
// forwarded to this node fail.
func (r *Router) Register(s *grpc.Server) {
	routerpb.RegisterForwardServer(s, forwardServer{r: r})
}

// MaxMessageSize is the largest Forward request a node must accept: the
// largest write command a Store takes, plus room for the envelope.
const MaxMessageSize = rangegroup.MaxCommandSize + 1<<20

// ServerOptions are the options the gRPC server that Register is given
// needs (gRPC refuses requests over 4 MiB by default).
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageSize)}
}

// Descriptors returns a copy of the cached range descriptors, ordered by
// range end, for status pages and debugging.
func (r *Router) Descriptors() []*storagepb.RangeDescriptor {
	return r.cache.descriptors()
}

// Write runs a write request on the leader of the range holding its keys
// and returns the state machine's response once it is applied.
//
// put_many, delete_many and touch_many are split by range: each range's
// part is atomic, the parts run concurrently, and the results come back
// one per item in request order. If some parts were applied and others
// failed, Write returns the Response with every item's result and a
// *BulkError. Other multi-key commands (transactions) must lie in one
// range, which keys sharing a hash tag always do; otherwise the error
// wraps ErrCrossRange.
//
// An error wrapping rangegroup.ErrTimeout means the write may or may not
// be applied (it was sent and no answer came in time); every other error
// means it was not.
func (r *Router) Write(ctx context.Context, req *kvpb.Request) (resp *kvpb.Response, err error) {
	name := writeName(req)
	start := time.Now()
	defer func() { r.metrics.observe(name, outcomeOf(err, resp != nil), start) }()
	if err := r.cfg.Limits.Validate(req); err != nil {
		return nil, fmt.Errorf("router: %s: %w", name, err)
	}
	switch req.GetOp().(type) {
	case *kvpb.Request_PutMany, *kvpb.Request_DeleteMany, *kvpb.Request_TouchMany:
		return r.bulkWrite(ctx, name, req)
	}
	keys := kv.RequestKeys(req)
	if len(keys) == 0 {
		return nil, fmt.Errorf("router: %s: a command without keys (a scan) cannot be routed through a range's log: %w", name, kv.ErrInvalidArgument)
	}
	o := &op{name: name, write: req, positions: r.positions(keys)}
	o.pos = o.positions[0]
	rep, err := r.route(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("router: %s: %w", name, err)
	}
	return rep.write, nil
}

// Read serves a read at the given consistency level: Strong and Leader
// reads are served by the range's leader, Eventual reads by a random
// replica (another one if it fails). get_many is split by range like bulk
// writes, with results in request order; a scan walks the ranges in
// position order (see Scan).
func (r *Router) Read(ctx context.Context, level rangegroup.Consistency, req *kvpb.ReadRequest) (resp *kvpb.ReadResponse, err error) {
	name := readName(req)
	if sc, ok := req.GetOp().(*kvpb.ReadRequest_Scan); ok {
		return r.Scan(ctx, level, sc.Scan)
	}
	start := time.Now()
	defer func() { r.metrics.observe(name, outcomeOf(err, false), start) }()
	if err := r.checkRead(level, req); err != nil {
		return nil, fmt.Errorf("router: %s: %w", name, err)
	}
	if _, ok := req.GetOp().(*kvpb.ReadRequest_GetMany); ok {
		return r.bulkRead(ctx, name, level, req)
	}
	o := &op{name: name, read: req, level: level, positions: r.positions(kv.ReadKeys(req))}
	o.pos = o.positions[0]
	rep, err := r.route(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("router: %s: %w", name, err)
	}
	return rep.read, nil
}

// checkRead validates a read and its consistency level.
func (r *Router) checkRead(level rangegroup.Consistency, req *kvpb.ReadRequest) error {
	switch level {
	case rangegroup.Leader, rangegroup.Strong, rangegroup.Eventual:
	default:
		return fmt.Errorf("consistency %v: %w", level, kv.ErrInvalidArgument)
	}
	return r.cfg.Limits.ValidateRead(req)
}

// outcomeOf labels a request's outcome for metrics.
func outcomeOf(err error, partial bool) string {
	var be *BulkError
	switch {
	case err == nil:
		return outcomeOK
	case partial || errors.As(err, &be):
		return outcomePartial
	case errors.Is(err, rangegroup.ErrTimeout):
		return outcomeTimeout
	case errors.Is(err, rangegroup.ErrUnavailable):
		return outcomeUnavailable
	case errors.Is(err, context.Canceled):
		return outcomeCanceled
	case kv.CodeOf(err) != kvpb.ErrorCode_INTERNAL:
		return outcomeInvalid
	}
	return outcomeError
}
