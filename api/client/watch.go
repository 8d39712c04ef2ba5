package client

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/concord-kv/concord"
	kvapi "github.com/concord-kv/concord/api/kvpb"
	"github.com/concord-kv/concord/router"
)

// watchBuffer is how many events a watcher may leave unread, as on a Node.
const watchBuffer = 1024

// Watch streams the changes of key (see concord.Node.Watch). The node
// serving the stream moves the watch between the replicas of the key's
// range by itself; when that node fails, the client opens the watch on
// another from the revision after the last one delivered, so every change
// still arrives once and in order. The watch ends when ctx does, when the
// client closes (ErrClosed), or with ErrCompacted.
func (c *Client) Watch(ctx context.Context, key []byte, opts ...concord.Option) (<-chan concord.WatchEvent, error) {
	o, err := concord.ResolveOptions("Watch", opts...)
	if err != nil {
		return nil, optionError("watch", err)
	}
	req := &kvapi.WatchRequest{Key: key, StartRevision: o.StartRevision}
	routeKey := key
	if o.Prefix != nil {
		req.Key, req.Prefix, routeKey = nil, o.Prefix, o.Prefix
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.bg, cancel)
	w := &watcher{c: c, req: req, pos: concord.Position(routeKey, c.cfg.HashFunc, c.cfg.HashBits), failed: map[string]bool{}}
	// The first stream is opened here, so that bad input and an
	// unreachable cluster are the call's error.
	if err := w.open(ctx); err != nil {
		stop()
		cancel()
		return nil, decodeError("watch", err).err
	}
	out := make(chan concord.WatchEvent, watchBuffer)
	c.bgWait.Add(1)
	go func() {
		defer c.bgWait.Done()
		defer close(out)
		defer stop()
		defer cancel()
		err := w.run(ctx, out)
		if c.bg.Err() != nil {
			err = fmt.Errorf("concord client: watch: %w", concord.ErrClosed)
		}
		// A reader that stopped reading must not keep this goroutine
		// (and Close) waiting.
		select {
		case out <- concord.WatchEvent{Err: err}:
		default:
		}
	}()
	return out, nil
}

// watcher is one watch: its request, advanced past every event delivered,
// and its current stream.
type watcher struct {
	c      *Client
	req    *kvapi.WatchRequest
	pos    uint64
	failed map[string]bool
	addr   string
	stream grpc.ServerStreamingClient[kvapi.WatchResponse]
}

// open starts a stream on the best node not yet failed, and reads its
// first response, which confirms the watch and says where it starts. The
// error is gRPC's, for decodeError.
func (w *watcher) open(ctx context.Context) error {
	w.addr = w.c.pick(w.pos, true, w.failed)
	conn, err := w.c.conn(w.addr)
	if err != nil {
		return err
	}
	w.stream, err = kvapi.NewKVClient(conn).Watch(ctx, w.req)
	if err == nil {
		var first *kvapi.WatchResponse
		if first, err = w.stream.Recv(); err == nil {
			if w.req.StartRevision == 0 {
				w.req.StartRevision = first.GetStartRevision()
			}
			return nil
		}
	}
	return err
}

// run relays events until the watch ends, reopening it elsewhere when a
// stream breaks without the node having ended it.
func (w *watcher) run(ctx context.Context, out chan<- concord.WatchEvent) error {
	b := router.NewBackoff(backoffMin, backoffMax)
	for {
		resp, err := w.stream.Recv()
		if err == nil {
			for _, ev := range resp.GetEvents() {
				select {
				case out <- watchEvent(ev):
				case <-ctx.Done():
					return ctx.Err()
				}
				w.req.StartRevision = ev.GetKv().GetModRevision() + 1
			}
			b = router.NewBackoff(backoffMin, backoffMax)
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d := decodeError("watch", err); !resumable(d) {
			return d.err
		}
		// The node went away or is closing: resume on another.
		w.failed[w.addr] = true
		for {
			if err := b.Wait(ctx); err != nil {
				return err
			}
			if err := w.c.router.refresh(ctx, time.Now()); err != nil {
				w.c.cfg.Logger.Debug("routing refresh failed", "err", err)
			}
			err := w.open(ctx)
			if err == nil {
				break
			}
			if d := decodeError("watch", err); !resumable(d) {
				return d.err
			}
			w.failed[w.addr] = true
		}
	}
}

// resumable reports whether a watch that failed so may go on elsewhere:
// the node did not end it for a reason of its own (bad input, compacted
// history), it went away or was shutting down.
func resumable(d decoded) bool {
	return !d.fromNode || d.code == concord.CodeUnavailable || d.code == concord.CodeClosed
}

func watchEvent(ev *kvapi.WatchEvent) concord.WatchEvent {
	if ev.GetType() == kvapi.EventType_EVENT_TYPE_DELETE {
		return concord.WatchEvent{
			Type:     concord.EventDelete,
			KeyValue: concord.KeyValue{Key: ev.GetKv().GetKey(), ModRevision: ev.GetKv().GetModRevision()},
			Expired:  ev.GetExpired(),
		}
	}
	return concord.WatchEvent{Type: concord.EventPut, KeyValue: *kvFromPB(ev.GetKv(), true)}
}
