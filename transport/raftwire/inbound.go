package raftwire

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/concord-kv/concord/transport/raftwire/raftwirepb"
)

// service implements the RaftWire gRPC service on behalf of a Transport.
type service struct {
	raftwirepb.UnimplementedRaftWireServer
	t *Transport
}

// errServiceClosed is what peers get from a closed transport.
var errServiceClosed = status.Error(codes.Unavailable, ErrClosed.Error())

// streamID orders one sender's streams (see raftwirepb.StreamHeader).
type streamID struct {
	incarnation, stream uint64
}

// inboundPeer serialises delivery from one sending node and lets only its
// newest stream deliver: once a stream has started, an older one still
// draining buffered batches (a sender that reconnected) stops, so its
// messages cannot overtake newer ones.
type inboundPeer struct {
	mu      sync.Mutex
	current streamID
}

// claim makes id the current stream, unless a newer stream of the same
// process already is. A different incarnation is a restarted sender and
// always wins.
func (p *inboundPeer) claim(id streamID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id.incarnation == p.current.incarnation && id.stream < p.current.stream {
		return false
	}
	p.current = id
	return true
}

// deliver runs fn if id is still the current stream, serialised with every
// other delivery from the same sender.
func (p *inboundPeer) deliver(id streamID, fn func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current != id {
		return false
	}
	fn()
	return true
}

// inboundFrom returns the delivery state of sender node from.
func (t *Transport) inboundFrom(from string) *inboundPeer {
	t.inMu.Lock()
	defer t.inMu.Unlock()
	p := t.inbound[from]
	if p == nil {
		p = &inboundPeer{}
		t.inbound[from] = p
	}
	return p
}

// checkHeader validates the header opening an incoming stream.
func (t *Transport) checkHeader(h *raftwirepb.StreamHeader) error {
	switch {
	case h == nil:
		return status.Error(codes.InvalidArgument, "raftwire: stream without header")
	case h.GetFrom() == "":
		return status.Error(codes.InvalidArgument, "raftwire: stream header names no sender")
	case h.GetTo() != t.cfg.Node:
		return status.Errorf(codes.FailedPrecondition, "raftwire: stream for node %q reached node %q", h.GetTo(), t.cfg.Node)
	}
	return nil
}

// Messages serves one peer's message stream: it hands each batch to the
// Handler, in order, and acknowledges the batches that ask for it.
func (s *service) Messages(stream raftwirepb.RaftWire_MessagesServer) error {
	t := s.t
	if !t.enter() {
		return errServiceClosed
	}
	defer t.wg.Done()
	batches := pump(t, stream.Context().Done(), stream.Recv)
	recv := func() (*raftwirepb.Batch, error) {
		select {
		case got := <-batches:
			return got.msg, got.err
		case <-t.ctx.Done():
			return nil, errServiceClosed
		}
	}
	first, err := recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if err := t.checkHeader(h); err != nil {
		return err
	}
	in := &inStream{
		t:      t,
		from:   h.GetFrom(),
		id:     streamID{h.GetIncarnation(), h.GetStream()},
		peer:   t.inboundFrom(h.GetFrom()),
		stream: stream,
	}
	if !in.peer.claim(in.id) {
		return status.Errorf(codes.Aborted, "raftwire: stream %d from %s superseded", in.id.stream, in.from)
	}
	for b := first; ; {
		if err := in.handle(b); err != nil {
			return err
		}
		if b, err = recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the sender half-closed: everything is handed over
			}
			return err
		}
	}
}

// inStream is the receiving end of one message stream.
type inStream struct {
	t      *Transport
	from   string
	id     streamID
	peer   *inboundPeer
	stream raftwirepb.RaftWire_MessagesServer
	asm    reassembler
}

// handle delivers one batch and acknowledges it if asked.
func (in *inStream) handle(b *raftwirepb.Batch) error {
	t := in.t
	msgs, err := decode(b, &in.asm)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "raftwire: batch %d from %s: %v", b.GetSeq(), in.from, err)
	}
	if len(msgs) > 0 {
		ok := in.peer.deliver(in.id, func() { t.cfg.Handler.HandleMessages(in.from, msgs) })
		if !ok {
			return status.Errorf(codes.Aborted, "raftwire: stream %d from %s superseded", in.id.stream, in.from)
		}
		t.stats.messagesReceived.Add(uint64(len(msgs)))
	}
	if len(b.GetMessages()) > 0 {
		t.stats.batchesReceived.Add(1)
	}
	if b.GetWantAck() {
		if err := in.stream.Send(&raftwirepb.Ack{Seq: b.GetSeq()}); err != nil {
			return err
		}
	}
	return nil
}

// handlerContext is ctx, also cancelled when the transport closes.
func (t *Transport) handlerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(t.ctx, func() { cancel(ErrClosed) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}
