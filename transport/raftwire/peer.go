package raftwire

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/concord-kv/concord/transport/raftwire/raftwirepb"
)

// peer is the sending side towards one node: a queue that Send fills and a
// sender goroutine (run) that drains it onto the node's message stream.
// The goroutine exists while the peer is registered in Transport.peers;
// it unregisters itself after Config.IdleTimeout without traffic.
type peer struct {
	t    *Transport
	node string
	wake chan struct{} // capacity 1: "the queue may have messages"

	mu       sync.Mutex
	queue    []Message
	spare    []Message // a drained queue kept for reuse
	overflow bool      // messages were dropped since the last report

	// Owned by the sender goroutine.
	s       *outStream // nil while not connected
	retryAt time.Time  // no reconnect before this (backoff after a failure)
	backoff backoff
}

func newPeer(t *Transport, node string) *peer {
	return &peer{t: t, node: node, wake: make(chan struct{}, 1)}
}

// run is the sender goroutine.
func (p *peer) run() {
	defer p.t.wg.Done()
	idle := time.NewTimer(p.t.cfg.IdleTimeout)
	defer idle.Stop()
	for {
		var broken <-chan struct{}
		if p.s != nil {
			broken = p.s.done
		}
		select {
		case <-p.t.ctx.Done():
			p.shutdown()
			return
		case <-broken:
			p.streamEnded()
			continue
		case <-idle.C:
			if p.retire() {
				return
			}
			idle.Reset(p.t.cfg.IdleTimeout)
			continue
		case <-p.wake:
		}
		p.reportOverflow()
		if msgs := p.take(); len(msgs) > 0 {
			p.deliver(msgs)
			p.recycle(msgs)
			idle.Reset(p.t.cfg.IdleTimeout)
		}
	}
}

// deliver writes msgs to the peer's stream, opening or renewing it as
// needed. Whatever cannot be written is dropped and counted.
func (p *peer) deliver(msgs []Message) {
	t := p.t
	if p.s != nil && time.Since(p.s.opened) >= t.streamLifetime {
		s := p.s
		p.s = nil
		if err := s.finish(); err != nil {
			p.forget(s, err)
			p.fail(fmt.Errorf("renew stream: %w", err))
		}
	}
	if p.s == nil {
		if time.Now().Before(p.retryAt) {
			t.stats.droppedUnreachable.Add(uint64(len(msgs)))
			return
		}
		s, err := p.connect()
		if err != nil {
			t.stats.droppedUnreachable.Add(uint64(len(msgs)))
			p.fail(err)
			return
		}
		p.s = s
	}
	sent, invalid, err := p.s.send(msgs)
	t.stats.droppedInvalid.Add(uint64(invalid))
	if err != nil {
		t.stats.droppedUnreachable.Add(uint64(len(msgs) - sent - invalid))
		p.fail(err)
	}
}

// connect resolves the node and opens a message stream to it.
func (p *peer) connect() (*outStream, error) {
	t := p.t
	addr, ok := t.cfg.Resolve(p.node)
	if !ok {
		return nil, fmt.Errorf("resolve %s: %w", p.node, ErrUnknownNode)
	}
	cc, err := t.pool.Conn(addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s at %s: %w", p.node, addr, err)
	}
	s, err := openStream(t, p.node, addr, raftwirepb.NewRaftWireClient(cc))
	if err != nil {
		return nil, fmt.Errorf("open stream to %s at %s: %w", p.node, addr, err)
	}
	return s, nil
}

// streamEnded handles a stream that ended while the sender was waiting.
// One that merely reached its deadline while idle is replaced quietly on
// the next send; anything else is a failure.
func (p *peer) streamEnded() {
	err := p.s.failure(errors.New("stream ended by peer"))
	if errors.Is(err, context.DeadlineExceeded) && p.t.ctx.Err() == nil {
		p.s.abort(err)
		p.s = nil
		return
	}
	p.fail(err)
}

// fail tears down the current stream, if any, after err and reports the
// peer unreachable; reconnection waits for the backoff.
func (p *peer) fail(err error) {
	t := p.t
	if s := p.s; s != nil {
		p.s = nil
		s.abort(err)
		p.forget(s, err)
	}
	if t.ctx.Err() != nil {
		return // closing: not the peer's failure
	}
	t.stats.streamFailures.Add(1)
	delay := p.backoff.next()
	p.retryAt = time.Now().Add(delay)
	t.log.Debug("raftwire: peer unreachable", "peer", p.node, "err", err, "retry_in", delay)
	t.cfg.OnUnreachable(p.node)
}

// forget draws the lessons of a stream that ended after err.
func (p *peer) forget(s *outStream, err error) {
	if s.proven() {
		p.backoff.reset() // it worked: the next attempt need not wait long
	}
	if errors.Is(err, ErrNoAck) {
		// The connection itself is presumed dead (a vanished peer never
		// resets it); a fresh one must be dialled.
		p.t.pool.Drop(s.addr)
	}
}

// retire closes the idle stream and unregisters the peer, unless messages
// arrived meanwhile; it reports whether the goroutine should exit.
func (p *peer) retire() bool {
	if s := p.s; s != nil {
		p.s = nil
		if err := s.finish(); err != nil {
			p.forget(s, err)
			p.t.log.Debug("raftwire: closing idle stream", "peer", p.node, "err", err)
		}
	}
	t := p.t
	t.mu.Lock()
	defer t.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) > 0 || t.closed {
		return false
	}
	delete(t.peers, p.node)
	return true
}

// shutdown ends the stream at Close and counts what was still queued.
func (p *peer) shutdown() {
	if s := p.s; s != nil {
		p.s = nil
		s.abort(ErrClosed)
	}
	if msgs := p.take(); len(msgs) > 0 {
		p.t.stats.droppedClosed.Add(uint64(len(msgs)))
	}
}
