package concord

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/router"
)

// ErrCompacted: a watch cannot go on without a gap, because the changes
// it needs next are no longer in the history of any replica that could
// serve it (replicas keep a bounded history of recent changes in memory,
// lost when they restart). Re-read the current state, then watch again
// from the revision read.
var ErrCompacted = rangegroup.ErrCompacted

// EventType is the kind of a watched change.
type EventType int

const (
	// EventPut: the key was written (put, touch, or a transaction's put).
	EventPut EventType = iota + 1
	// EventDelete: the key was deleted, or expired and was swept.
	EventDelete
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// WatchEvent is one change of a watched key, or the end of a watch.
type WatchEvent struct {
	Type EventType
	// KeyValue is the key after a put (Value and metadata as Get returns
	// them). After a delete only Key and ModRevision (the revision of the
	// delete) are set.
	KeyValue
	// Expired marks a delete that removed an expired key.
	Expired bool
	// Err, on the last event of a watch, is why it ended: the context's
	// error, ErrCompacted, ErrClosed. The other fields are then zero.
	Err error
}

// watchBuffer is how many events a watcher may leave unread before the
// watch stops taking new ones (it resumes from history when the reader
// catches up, or fails with ErrCompacted if the history moved on).
const watchBuffer = 1024

// Watch streams the changes of key from now on, in the order they were
// applied, on the returned channel. With WithPrefix(p) (key is then
// ignored and may be nil) it watches every key starting with p; p must
// hold a whole hash tag ("{user:1}:"), so that the keys watched share one
// range and one order. With WithStartRevision(r) it first replays the
// changes from revision r on, as far as the serving replica's history
// reaches back.
//
// Any replica of the key's range may serve the watch. When it fails, or
// the range splits, merges or moves, the watch continues on another from
// the revision after the last one delivered, so every change is delivered
// once and in order. The channel is closed after a last event whose Err
// says why the watch ended: ctx ended, the node closed, or ErrCompacted
// (the changes needed next were lost; re-read and watch again). That last
// event is left out only when the reader had stopped reading and the
// channel's buffer of 1024 events was full.
//
// Options: WithPrefix, WithStartRevision.
func (n *Node) Watch(ctx context.Context, key []byte, opts ...Option) (<-chan WatchEvent, error) {
	return n.watch(ctx, key, opts, nil)
}

// watch is Watch, calling started (if set) with the revision the watch
// delivers changes from once it is established, before any event.
func (n *Node) watch(ctx context.Context, key []byte, opts []Option, started func(from uint64)) (<-chan WatchEvent, error) {
	const op = "watch"
	o, err := parseOptions(watchOptions, opts)
	if err != nil {
		return nil, inputError(op, err)
	}
	spec := router.WatchSpec{Key: key, From: o.startRev, Started: started}
	if o.given&optPrefix != 0 {
		spec.Key, spec.Prefix = o.prefix, true
		if !wholeTag(o.prefix) {
			return nil, inputError(op, fmt.Errorf("%w: watch prefix %q holds no whole hash tag ({...}), so its keys do not share a range", ErrInvalidArgument, shortKey(o.prefix)))
		}
	}
	// The key (or prefix) is checked as a get's would be.
	if err := n.cfg.Limits.ValidateRead(&kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: spec.Key}}}); err != nil {
		return nil, inputError(op, err)
	}
	if n.closed() {
		return nil, callError(op, ErrClosed)
	}
	out := make(chan WatchEvent, watchBuffer)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(n.watchCtx, cancel)
	n.watches.Add(1)
	go func() {
		defer n.watches.Done()
		defer close(out)
		defer stop()
		defer cancel()
		err := n.router.Watch(ctx, spec, func(batch []rangegroup.Event) error {
			for _, e := range batch {
				select {
				case out <- watchEvent(e):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
		if n.watchCtx.Err() != nil {
			err = ErrClosed
		}
		// A reader that stopped reading must not keep this goroutine (and
		// the node's shutdown) waiting: without room the channel is only
		// closed.
		select {
		case out <- WatchEvent{Err: callError(op, err)}:
		default:
		}
	}()
	return out, nil
}

// wholeTag reports whether every key starting with p has p's hash tag:
// p holds a '{' followed, later, by a '}' with a non-empty tag between.
func wholeTag(p []byte) bool {
	open := bytes.IndexByte(p, '{')
	return open >= 0 && bytes.IndexByte(p[open+1:], '}') > 0
}

func watchEvent(e rangegroup.Event) WatchEvent {
	// The event's bytes are shared with the history and other watchers.
	key := bytes.Clone(e.Key)
	if e.Record == nil {
		return WatchEvent{Type: EventDelete, KeyValue: KeyValue{Key: key, ModRevision: e.Revision}, Expired: e.Expired}
	}
	kv := KeyValue{
		Key:            key,
		Value:          bytes.Clone(e.Record.Value),
		CreateRevision: e.Record.CreateRevision,
		ModRevision:    e.Record.ModRevision,
		Version:        e.Record.Version,
	}
	if kv.Value == nil {
		kv.Value = []byte{}
	}
	if e.Record.ExpiresAt != 0 {
		kv.ExpiresAt = time.Unix(0, e.Record.ExpiresAt)
	}
	return WatchEvent{Type: EventPut, KeyValue: kv}
}
