package concord

import (
	"google.golang.org/grpc"

	kvapi "github.com/concord-kv/concord/api/kvpb"
)

// watchBatch bounds the events one WatchResponse carries.
const watchBatch = 256

// Watch streams Node.Watch's events, batching those already waiting.
func (s *kvServer) Watch(req *kvapi.WatchRequest, stream grpc.ServerStreamingServer[kvapi.WatchResponse]) error {
	key := req.GetKey()
	var opts []Option
	if p := req.GetPrefix(); len(p) > 0 {
		key = nil
		opts = append(opts, WithPrefix(p))
	}
	if r := req.GetStartRevision(); r > 0 {
		opts = append(opts, WithStartRevision(r))
	}
	ctx := stream.Context()
	started := make(chan uint64, 1)
	events, err := s.n.watch(ctx, key, opts, func(from uint64) { started <- from })
	if err != nil {
		return s.fail(err)
	}
	// Started comes before any event: an event first is the watch's end.
	select {
	case from := <-started:
		if err := stream.Send(&kvapi.WatchResponse{StartRevision: from}); err != nil {
			return err
		}
	case ev := <-events:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ev.Err == nil {
			// The channel closed without its ending event: only the
			// node closing does that here.
			ev.Err = ErrClosed
		}
		return s.fail(ev.Err)
	}
	for {
		batch, end, open := nextWatchBatch(events)
		if len(batch) > 0 {
			if err := stream.Send(&kvapi.WatchResponse{Events: batch}); err != nil {
				return err
			}
		}
		switch {
		case end != nil && ctx.Err() != nil:
			return ctx.Err()
		case end != nil:
			return s.fail(end)
		case !open:
			return nil
		}
	}
}

// nextWatchBatch waits for the next event and takes those already waiting
// behind it, up to watchBatch. end is the error of a watch's last event;
// open is false once the channel is closed.
func nextWatchBatch(events <-chan WatchEvent) (batch []*kvapi.WatchEvent, end error, open bool) {
	ev, ok := <-events
	for {
		switch {
		case !ok:
			return batch, nil, false
		case ev.Err != nil:
			return batch, ev.Err, true
		}
		batch = append(batch, watchEventPB(ev))
		if len(batch) == watchBatch {
			return batch, nil, true
		}
		select {
		case ev, ok = <-events:
		default:
			return batch, nil, true
		}
	}
}

func watchEventPB(ev WatchEvent) *kvapi.WatchEvent {
	t := kvapi.EventType_EVENT_TYPE_PUT
	if ev.Type == EventDelete {
		t = kvapi.EventType_EVENT_TYPE_DELETE
	}
	return &kvapi.WatchEvent{Type: t, Kv: kvPB(&ev.KeyValue), Expired: ev.Expired}
}
