package router

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/router/routerpb"
	"github.com/concord-kv/concord/storage/storagepb"
)

// WatchSpec says what Router.Watch watches: one key, or with Prefix the
// keys that start with Key, which must all lie at Key's position (the
// prefix holds a whole hash tag), from revision From (0: from now on).
type WatchSpec struct {
	Key    []byte
	Prefix bool
	From   uint64
	// Started, if set, is called once, when the first subscription is
	// made, with the revision from which changes are delivered (From, or
	// the serving replica's next revision when From is 0).
	Started func(from uint64)
}

// Watch streams the changes spec selects to fn, in revision order, until
// ctx ends (returning ctx's error), fn fails (returning its error), or the
// changes cannot be continued without a gap: then the error wraps
// rangegroup.ErrCompacted. Any replica of the key's range may serve the
// watch, the leader first; when that replica goes away, or the range
// splits or merges, the watch resumes on whichever replica serves the key
// then, from the revision after the last one delivered, so fn sees every
// change once. fn runs on Watch's goroutine.
func (r *Router) Watch(ctx context.Context, spec WatchSpec, fn func([]rangegroup.Event) error) error {
	o := &op{name: "watch", pos: r.cfg.Position(spec.Key)}
	b := NewBackoff(r.cfg.BackoffMin, r.cfg.BackoffMax)
	tried := make(map[string]bool)
	compacted := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := r.pick(ctx, o, tried)
		if err == nil {
			var st watchStream
			if t.node == r.cfg.Self {
				st, err = r.watchLocal(t.rangeID, o.pos, spec)
			} else {
				st, err = r.watchRemote(ctx, t, o.pos, spec)
			}
			if err == nil {
				if spec.Started != nil {
					spec.Started(st.startedAt())
					spec.Started = nil
				}
				var delivered bool
				delivered, err = r.relay(ctx, st, &spec, fn)
				if delivered {
					b = NewBackoff(r.cfg.BackoffMin, r.cfg.BackoffMax)
					clear(tried)
					compacted = 0
				}
			}
		}
		var fnErr *watchFnError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &fnErr):
			return fnErr.err
		case errors.Is(err, kv.ErrInvalidKey), errors.Is(err, kv.ErrInvalidArgument):
			return fmt.Errorf("router: watch: %w", err)
		case errors.Is(err, rangegroup.ErrCompacted):
			// Another replica may still hold the history this one lost
			// (a restart, a snapshot); every voter saying so is final.
			if compacted++; compacted >= 3 {
				return fmt.Errorf("router: watch from revision %d: %w", spec.From, err)
			}
		}
		tried[t.node] = true
		r.learnFromWatch(t, err)
		r.metrics.retries.WithLabelValues("watch").Inc()
		r.cfg.Logger.Debug("watch resumes", "node", t.node, "from", spec.From, "err", err)
		if b.Wait(ctx) != nil {
			return ctx.Err()
		}
	}
}

// watchFnError carries the callback's error out of relay, to tell it from
// the stream's.
type watchFnError struct{ err error }

func (e *watchFnError) Error() string { return e.err.Error() }

// learnFromWatch updates the cache from why a watch attempt on t ended.
func (r *Router) learnFromWatch(t target, err error) {
	var rm *rangegroup.RangeMismatchError
	switch {
	case errors.As(err, &rm) && rm.Descriptor != nil:
		r.cache.update(rm.Descriptor, "")
	case errors.Is(err, rangegroup.ErrWatchInterrupted), errors.Is(err, rangegroup.ErrRangeNotFound):
		// The range changed shape or moved: ask afresh.
		r.cache.drop(t.rangeID)
	default:
		r.cache.dropLeader(t.rangeID, t.node)
	}
}

// watchStream is one subscription, local or remote.
type watchStream interface {
	// startedAt is the revision the subscription delivers changes from.
	startedAt() uint64
	// next returns the next batch; at the end it returns a nil batch and
	// why it ended, with the revision to resume from (0 if unknown).
	next(ctx context.Context) (batch []rangegroup.Event, resumeFrom uint64, err error)
	close()
}

// relay passes a stream's batches to fn, advancing spec.From past each,
// until the stream ends. It reports whether anything was delivered.
func (r *Router) relay(ctx context.Context, st watchStream, spec *WatchSpec, fn func([]rangegroup.Event) error) (bool, error) {
	defer st.close()
	delivered := false
	for {
		batch, resumeFrom, err := st.next(ctx)
		if batch == nil {
			spec.From = max(spec.From, resumeFrom)
			return delivered, err
		}
		delivered = true
		if err := fn(batch); err != nil {
			return delivered, &watchFnError{err: err}
		}
		spec.From = batch[len(batch)-1].Revision + 1
	}
}

// subscribe opens a subscription on this node's replica of rangeID, or of
// the range holding pos when rangeID is 0.
func (r *Router) subscribe(rangeID, pos uint64, spec WatchSpec) (*rangegroup.Subscription, error) {
	st := r.cfg.Store
	if st == nil {
		return nil, fmt.Errorf("node %s holds no replicas: %w", r.cfg.Self, rangegroup.ErrRangeNotFound)
	}
	if rangeID == 0 {
		info, ok := st.RangeFor(pos)
		if !ok {
			return nil, fmt.Errorf("node %s: no replica holds position %d: %w", r.cfg.Self, pos, rangegroup.ErrRangeNotFound)
		}
		rangeID = info.RangeID
	}
	return st.Watch(rangegroup.WatchSpec{RangeID: rangeID, Key: spec.Key, Prefix: spec.Prefix, From: spec.From})
}

// localStream is a subscription on this node's Store.
type localStream struct{ sub *rangegroup.Subscription }

func (r *Router) watchLocal(rangeID, pos uint64, spec WatchSpec) (watchStream, error) {
	sub, err := r.subscribe(rangeID, pos, spec)
	if err != nil {
		return nil, err
	}
	return localStream{sub: sub}, nil
}

func (l localStream) startedAt() uint64 { return l.sub.Start() }

func (l localStream) next(ctx context.Context) ([]rangegroup.Event, uint64, error) {
	select {
	case batch, ok := <-l.sub.C:
		if ok {
			return batch, 0, nil
		}
		return nil, l.sub.ResumeFrom(), l.sub.Err()
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
}

func (l localStream) close() { l.sub.Close() }

// remoteStream is a subscription on another node, through its Forward
// service.
type remoteStream struct {
	stream grpc.ServerStreamingClient[routerpb.WatchReply]
	cancel context.CancelFunc
	start  uint64
}

func (s *remoteStream) startedAt() uint64 { return s.start }

func (r *Router) watchRemote(ctx context.Context, t target, pos uint64, spec WatchSpec) (watchStream, error) {
	cc, err := r.dial(ctx, t.node)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := routerpb.NewForwardClient(cc).Watch(ctx, &routerpb.WatchRequest{
		RangeId: t.rangeID, Position: pos, Key: spec.Key, Prefix: spec.Prefix, FromRevision: spec.From,
	}, grpc.MaxCallRecvMsgSize(MaxMessageSize))
	if err != nil {
		cancel()
		return nil, &sendError{node: t.node, err: err}
	}
	// The first reply says the subscription is made, or why not.
	first, err := stream.Recv()
	if err != nil {
		cancel()
		return nil, &sendError{node: t.node, err: err}
	}
	if end := first.GetEnd(); end != nil {
		cancel()
		return nil, watchEndError(end)
	}
	return &remoteStream{stream: stream, cancel: cancel, start: first.GetStartedAt()}, nil
}

func (s *remoteStream) next(context.Context) ([]rangegroup.Event, uint64, error) {
	for {
		m, err := s.stream.Recv()
		if err != nil {
			return nil, 0, err
		}
		if end := m.GetEnd(); end != nil {
			return nil, end.GetResumeFrom(), watchEndError(end)
		}
		if len(m.GetEvents()) == 0 {
			continue
		}
		batch := make([]rangegroup.Event, 0, len(m.GetEvents()))
		for _, we := range m.GetEvents() {
			e := rangegroup.Event{Key: we.GetKey(), Revision: we.GetRevision(), Expired: we.GetExpired()}
			if len(we.GetRecord()) > 0 {
				rec, err := kv.DecodeRecord(we.GetRecord())
				if err != nil {
					return nil, 0, fmt.Errorf("watch event for %q: %w", we.GetKey(), err)
				}
				e.Record = &rec
			}
			batch = append(batch, e)
		}
		return batch, 0, nil
	}
}

func (s *remoteStream) close() { s.cancel() }

// watchEndError rebuilds the error that ended a remote subscription.
func watchEndError(end *routerpb.WatchEnd) error {
	msg := end.GetMessage()
	remote := func(errs ...error) error { return &remoteError{msg: msg, errs: errs} }
	switch {
	case end.GetError() == routerpb.ErrorKind_KV:
		return remote(kv.ErrInvalidArgument)
	case !end.GetResumable():
		return remote(rangegroup.ErrCompacted)
	case end.GetError() == routerpb.ErrorKind_RANGE_MISMATCH:
		var d storagepb.RangeDescriptor
		if proto.Unmarshal(end.GetDescriptor_(), &d) == nil && d.GetRangeId() != 0 {
			return remote(&rangegroup.RangeMismatchError{Descriptor: &d}, kv.ErrRangeMismatch)
		}
		return remote(kv.ErrRangeMismatch)
	case end.GetError() == routerpb.ErrorKind_RANGE_NOT_FOUND:
		return remote(rangegroup.ErrRangeNotFound)
	case end.GetError() == routerpb.ErrorKind_STOPPED:
		return remote(rangegroup.ErrStopped)
	}
	return remote(rangegroup.ErrWatchInterrupted)
}

// Watch serves another node's watch from this node's replica.
func (s forwardServer) Watch(req *routerpb.WatchRequest, stream grpc.ServerStreamingServer[routerpb.WatchReply]) error {
	spec := WatchSpec{Key: req.GetKey(), Prefix: req.GetPrefix(), From: req.GetFromRevision()}
	// The key is checked as a get's would be: a watch is a read.
	if err := s.r.cfg.Limits.ValidateRead(&kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: spec.Key}}}); err != nil {
		return stream.Send(&routerpb.WatchReply{End: watchEnd(err, 0)})
	}
	sub, err := s.r.subscribe(req.GetRangeId(), req.GetPosition(), spec)
	if err != nil {
		return stream.Send(&routerpb.WatchReply{End: watchEnd(err, spec.From)})
	}
	defer sub.Close()
	if err := stream.Send(&routerpb.WatchReply{StartedAt: sub.Start()}); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case batch, ok := <-sub.C:
			if !ok {
				return stream.Send(&routerpb.WatchReply{End: watchEnd(sub.Err(), sub.ResumeFrom())})
			}
			out := &routerpb.WatchReply{Events: make([]*routerpb.WatchEvent, 0, len(batch))}
			for _, e := range batch {
				we := &routerpb.WatchEvent{Key: e.Key, Revision: e.Revision, Expired: e.Expired}
				if e.Record != nil {
					we.Record = kv.EncodeRecord(e.Record)
				}
				out.Events = append(out.Events, we)
			}
			if err := stream.Send(out); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// watchEnd is the last message of a watch stream ended by err.
func watchEnd(err error, resumeFrom uint64) *routerpb.WatchEnd {
	kind := errorKind(err)
	end := &routerpb.WatchEnd{Error: kind, Resumable: kind != routerpb.ErrorKind_KV && !errors.Is(err, rangegroup.ErrCompacted), ResumeFrom: resumeFrom}
	if err != nil {
		end.Message = err.Error()
	}
	var rm *rangegroup.RangeMismatchError
	if errors.As(err, &rm) && rm.Descriptor != nil {
		end.RangeId = rm.Descriptor.GetRangeId()
		end.Descriptor_, _ = proto.Marshal(rm.Descriptor)
	}
	return end
}
