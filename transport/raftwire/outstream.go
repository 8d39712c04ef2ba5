package raftwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/concord-kv/concord/transport/raftwire/raftwirepb"
)

// Message stream lifetime (see the package comment): a stream is renewed
// once it is streamLifetime old, and its context expires streamGrace later,
// a bound no healthy stream reaches.
const (
	streamLifetime = 5 * time.Minute
	streamGrace    = time.Minute
)

// outStream is one open message stream to a peer. The sender goroutine
// writes batches; a reader goroutine consumes the peer's acknowledgements;
// a watchdog timer breaks the stream when an acknowledgement is overdue.
type outStream struct {
	t      *Transport
	peer   string
	addr   string
	opened time.Time
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   context.CancelFunc // releases the deadline's timer
	stream raftwirepb.RaftWire_MessagesClient
	seq    uint64 // last batch number written (sender goroutine only)

	// done is closed by the reader when the stream has ended; recvErr
	// (io.EOF for a clean end) is valid after that.
	done    chan struct{}
	recvErr error

	mu       sync.Mutex
	awaiting uint64    // batch whose acknowledgement is outstanding, 0 if none
	since    time.Time // when awaiting was set
	acked    bool      // an acknowledgement arrived: the path works end to end
	watchdog *time.Timer
}

// openStream opens a message stream and writes its header batch, which
// asks for the first acknowledgement: the watchdog covers the opening too.
func openStream(t *Transport, peer, addr string, client raftwirepb.RaftWireClient) (*outStream, error) {
	dctx, stop := context.WithTimeout(t.ctx, t.streamLifetime+streamGrace)
	ctx, cancel := context.WithCancelCause(dctx)
	s := &outStream{
		t: t, peer: peer, addr: addr, opened: time.Now(),
		ctx: ctx, cancel: cancel, stop: stop,
		done: make(chan struct{}),
		seq:  1,
	}
	s.mu.Lock()
	s.awaiting, s.since = 1, s.opened
	s.watchdog = time.AfterFunc(t.cfg.AckTimeout, s.check)
	s.mu.Unlock()

	stream, err := client.Messages(ctx)
	if err != nil {
		err = s.failure(err)
		s.release()
		return nil, err
	}
	s.stream = stream
	t.wg.Add(1) // called from the counted sender goroutine
	go s.read()

	header := &raftwirepb.Batch{
		Header: &raftwirepb.StreamHeader{
			From:        t.cfg.Node,
			To:          peer,
			Incarnation: t.incarnation,
			Stream:      t.streamSeq.Add(1),
		},
		Seq:     1,
		WantAck: true,
	}
	if err := stream.Send(header); err != nil {
		err = s.sendErr(err)
		s.abort(err)
		return nil, err
	}
	t.stats.streamsOpened.Add(1)
	return s, nil
}

// send writes msgs as batches. It returns how many messages were written
// whole and how many could not be encoded; on error the rest were not
// written.
func (s *outStream) send(msgs []Message) (sent, invalid int, err error) {
	f := newFramer(msgs, s.t.cfg.MaxBatchBytes)
	for {
		envs, completed := f.nextBatch()
		if envs == nil {
			return sent, f.invalid, nil
		}
		s.seq++
		b := &raftwirepb.Batch{Seq: s.seq, Messages: envs, WantAck: s.requestAck(s.seq)}
		if err := s.stream.Send(b); err != nil {
			return sent, f.invalid, s.sendErr(err)
		}
		sent += completed
		s.t.stats.batchesSent.Add(1)
		s.t.stats.messagesSent.Add(uint64(completed))
	}
}

// requestAck reports whether batch seq should ask for an acknowledgement:
// when none is outstanding. One request per round trip is enough to detect
// a dead peer and keeps acknowledgements far fewer than batches.
func (s *outStream) requestAck(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.awaiting != 0 {
		return false
	}
	s.awaiting, s.since = seq, time.Now()
	s.watchdog.Reset(s.t.cfg.AckTimeout)
	return true
}

// check is the watchdog: it breaks the stream if the outstanding
// acknowledgement is overdue. A stale firing (the acknowledgement came, or
// a later request restarted the clock) finds nothing overdue.
func (s *outStream) check() {
	s.mu.Lock()
	late := s.awaiting != 0 && time.Since(s.since) >= s.t.cfg.AckTimeout
	s.mu.Unlock()
	if late {
		s.cancel(fmt.Errorf("%w: %s sent no acknowledgement within %v", ErrNoAck, s.peer, s.t.cfg.AckTimeout))
	}
}

// read is the reader goroutine: it records acknowledgements until the
// stream ends.
func (s *outStream) read() {
	defer s.t.wg.Done()
	defer close(s.done)
	for {
		ack, err := s.stream.Recv()
		if err != nil {
			s.recvErr = err
			return
		}
		s.mu.Lock()
		if s.awaiting != 0 && ack.GetSeq() >= s.awaiting {
			s.awaiting = 0
			s.watchdog.Stop()
		}
		s.acked = true
		s.mu.Unlock()
	}
}

// proven reports whether the peer ever acknowledged on this stream.
func (s *outStream) proven() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// sendErr explains a failed write. io.EOF from Send means the stream is
// over and its status is what the reader receives.
func (s *outStream) sendErr(err error) error {
	if errors.Is(err, io.EOF) {
		<-s.done
	}
	return s.failure(err)
}

// failure explains why the stream is over: our own reason for cancelling it
// (no acknowledgement, its deadline, Close) first, then the peer's status,
// else fallback.
func (s *outStream) failure(fallback error) error {
	if s.ctx.Err() != nil {
		return context.Cause(s.ctx)
	}
	select {
	case <-s.done:
		if s.recvErr != nil && !errors.Is(s.recvErr, io.EOF) {
			return s.recvErr
		}
	default:
	}
	return fallback
}

// finish closes the stream gracefully: half-close, then wait (up to
// AckTimeout) for the peer to end it, which it does once it has handed
// over every batch. It returns an error if that did not happen cleanly.
func (s *outStream) finish() error {
	err := s.stream.CloseSend()
	if err == nil {
		wait := time.NewTimer(s.t.cfg.AckTimeout)
		select {
		case <-s.done:
			if !errors.Is(s.recvErr, io.EOF) {
				err = s.failure(s.recvErr)
			}
		case <-wait.C:
			err = fmt.Errorf("%w: %s did not confirm the end of the stream", ErrNoAck, s.peer)
		}
		wait.Stop()
	}
	if err != nil {
		s.abort(err)
		return err
	}
	s.abort(context.Canceled)
	return nil
}

// abort cancels the stream (a no-op if it is over), waits for the reader
// and releases the stream's timers.
func (s *outStream) abort(cause error) {
	s.cancel(cause)
	<-s.done
	s.release()
}

// release stops the watchdog and the deadline timer.
func (s *outStream) release() {
	s.mu.Lock()
	s.watchdog.Stop()
	s.mu.Unlock()
	s.cancel(context.Canceled)
	s.stop()
}
