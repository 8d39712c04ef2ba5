package raftwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/concord-kv/concord/transport/raftwire/raftwirepb"
)

// partOverhead bounds what protobuf adds around a SnapshotPart's data.
const partOverhead = 32

// errPeerEnded means the receiver ended a snapshot stream before the
// sender finished; its reply says why.
var errPeerEnded = errors.New("receiver ended the snapshot stream")

// SendSnapshot streams one snapshot to node to and blocks until the
// receiver acknowledged it (its HandleSnapshot returned nil: nil here) or
// the transfer failed. header is opaque to the transport; chunks produces
// the snapshot, calling yield once per chunk and stopping (returning the
// error) if yield fails. header travels in one stream message, so it may
// take at most half of MaxBatchBytes; chunks may be of any size. The receiver's next returns exactly the chunks
// yielded; chunks may reuse its buffer once yield returns (gRPC has
// encoded the data by then).
//
// Outgoing snapshots share the node-wide rate (Config.SnapshotRate) and
// at most Config.MaxConcurrentSnapshots run at once; further calls wait,
// in ctx, for a slot.
//
// ctx bounds the whole transfer, including the receiver's processing; it
// should carry a deadline sized for the snapshot. Without one the transfer
// gets DefaultSnapshotTimeout. Independently, a transfer that cannot write
// a chunk for Config.SnapshotStallTimeout fails with ErrStalled. A receiver
// error wraps ErrSnapshotRejected; Close fails transfers with ErrClosed.
func (t *Transport) SendSnapshot(ctx context.Context, to string, header []byte,
	chunks func(yield func(chunk []byte) error) error) (err error) {
	defer func() {
		if err != nil {
			t.stats.snapshotsFailed.Add(1)
			err = fmt.Errorf("raftwire: snapshot to %s: %w", to, err)
		} else {
			t.stats.snapshotsSent.Add(1)
		}
	}()
	if t.ctx.Err() != nil {
		return ErrClosed
	}
	if len(header) > t.cfg.MaxBatchBytes/2 {
		return fmt.Errorf("header of %d bytes is over the %d allowed", len(header), t.cfg.MaxBatchBytes/2)
	}
	release, err := t.snapshotSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	addr, ok := t.cfg.Resolve(to)
	if !ok {
		return ErrUnknownNode
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultSnapshotTimeout)
		defer cancel()
	}
	ctx, cancel := t.handlerContext(ctx)
	defer cancel()
	cc, err := t.pool.Conn(addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	s := newSnapshotStream(t, ctx, to)
	defer s.stall.Stop()
	return s.run(raftwirepb.NewRaftWireClient(cc), header, chunks)
}

// snapshotSlot waits for one of the MaxConcurrentSnapshots slots and
// returns its release.
func (t *Transport) snapshotSlot(ctx context.Context) (func(), error) {
	t.stats.snapshotsWaiting.Add(1)
	defer t.stats.snapshotsWaiting.Add(-1)
	select {
	case t.snapSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-t.ctx.Done():
		return nil, ErrClosed
	}
	t.stats.snapshotsInFlight.Add(1)
	return func() {
		t.stats.snapshotsInFlight.Add(-1)
		<-t.snapSlots
	}, nil
}

// snapshotStream is one outgoing snapshot transfer.
type snapshotStream struct {
	t      *Transport
	ctx    context.Context
	cancel context.CancelCauseFunc
	to     string
	stream raftwirepb.RaftWire_SnapshotClient
	// stall cancels the transfer when a write has been blocked too long;
	// it runs only around writes (and while the stream opens).
	stall    *time.Timer
	maxPiece int
	// ended is the sticky error of the first failed yield.
	ended error
}

func newSnapshotStream(t *Transport, ctx context.Context, to string) *snapshotStream {
	ctx, cancel := context.WithCancelCause(ctx)
	s := &snapshotStream{t: t, ctx: ctx, cancel: cancel, to: to, maxPiece: t.cfg.MaxBatchBytes - partOverhead}
	d := t.cfg.SnapshotStallTimeout
	s.stall = time.AfterFunc(d, func() {
		cancel(fmt.Errorf("%w: nothing written for %v", ErrStalled, d))
	})
	return s
}

// run opens the stream, writes the header and the chunks, and returns the
// receiver's verdict.
func (s *snapshotStream) run(client raftwirepb.RaftWireClient, header []byte,
	chunks func(yield func(chunk []byte) error) error) error {
	defer s.cancel(context.Canceled)
	stream, err := client.Snapshot(s.ctx)
	if err != nil {
		return s.cause(err)
	}
	s.stream = stream
	t := s.t
	first := &raftwirepb.SnapshotPart{
		Header: &raftwirepb.StreamHeader{
			From:        t.cfg.Node,
			To:          s.to,
			Incarnation: t.incarnation,
			Stream:      t.streamSeq.Add(1),
		},
		SnapshotHeader: header,
	}
	if err = s.write(first); err == nil {
		err = chunks(s.yield)
		switch {
		case s.ended != nil:
			err = s.ended // yield failed; the producer's error only echoes it
		case err != nil:
			err = fmt.Errorf("produce chunks: %w", err)
		}
	}
	if err != nil && !errors.Is(err, errPeerEnded) {
		s.cancel(err)
		_, _ = stream.CloseAndRecv() // ends the call (and the pool's count of it)
		return err
	}
	reply, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("awaiting verdict: %w", s.cause(err))
	}
	if msg := reply.GetError(); msg != "" {
		return fmt.Errorf("%w: %s", ErrSnapshotRejected, msg)
	}
	return nil
}

// yield sends one chunk, in pieces if it is larger than a stream message,
// each piece paid for at the node's snapshot rate first.
func (s *snapshotStream) yield(chunk []byte) error {
	if s.ended != nil {
		return s.ended
	}
	for first := true; first || len(chunk) > 0; first = false {
		n := min(len(chunk), s.maxPiece)
		if err := s.t.limiter.wait(s.ctx, n); err != nil {
			s.ended = s.cause(err)
			return s.ended
		}
		if err := s.write(&raftwirepb.SnapshotPart{Data: chunk[:n], Partial: n < len(chunk)}); err != nil {
			s.ended = err
			return err
		}
		s.t.stats.snapBytes.Add(uint64(n))
		chunk = chunk[n:]
	}
	return nil
}

// write sends one part under the stall watchdog.
func (s *snapshotStream) write(p *raftwirepb.SnapshotPart) error {
	s.stall.Reset(s.t.cfg.SnapshotStallTimeout)
	err := s.stream.Send(p)
	s.stall.Stop()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return errPeerEnded
	default:
		return s.cause(err)
	}
}

// cause prefers the reason the transfer was cancelled (stall, Close, the
// caller's context) over the gRPC status that reported it.
func (s *snapshotStream) cause(err error) error {
	if s.ctx.Err() != nil {
		return context.Cause(s.ctx)
	}
	return err
}
