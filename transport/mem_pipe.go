package transport

import (
	"io"
	"net"
	"sync"
	"time"
)

// sendBuffer is how many unread bytes a healthy pipe queues before writers
// wait, as a kernel socket buffer would; it also caps throughput under delay
// at sendBuffer per delay, like a TCP window.
const sendBuffer = 4 << 20

// pipe is one direction of an in-memory stream connection: the writer end's
// bytes on their way to the reader end.
//
// Invariants:
//   - A write blocks only for backpressure: while sendBuffer or more bytes
//     are queued on a link that is not cut (a slow or delayed reader), like a
//     full socket buffer. On a cut link writes never block: the queue grows
//     without bound until Heal, so a partition can never wedge a writer (gRPC
//     flow control keeps what it has in flight small anyway). A single write
//     is always queued whole.
//   - Bytes are delivered in write order. A write's delivery time is
//     now+delay of the link at write time, raised to the previous chunk's
//     delivery time if the delay shrank, so order is never violated.
//   - While the link is cut nothing is readable (not even EOF): bytes are
//     held, as TCP would keep retransmitting them, and flow after Heal.
//   - No goroutine serves a pipe. A blocked reader waits on notify (a
//     one-slot token sent by each write), on state channels, and on a timer
//     that exists only while the queue head is not yet due.
type pipe struct {
	link *link

	mu      sync.Mutex
	q       byteQueue
	writers int  // writers blocked on a full queue
	wclosed bool // writer closed (FIN): EOF once the queue drains
	rclosed bool // reader closed: later writes fail
	reset   bool // connection reset: the reader fails at once

	notify chan struct{} // one-slot wake-up token for readers
	space  chan struct{} // one-slot wake-up token for blocked writers
	fin    chan struct{} // closed when wclosed is set
	done   chan struct{} // closed when rclosed or reset is set

	rdl deadline // owned by the reader end
	wdl deadline // owned by the writer end
}

func newPipe(l *link) *pipe {
	return &pipe{
		link:   l,
		notify: make(chan struct{}, 1),
		space:  make(chan struct{}, 1),
		fin:    make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// poke wakes one blocked reader; extra tokens are dropped because one
// pending token already guarantees a re-check.
func (p *pipe) poke() { pokeChan(p.notify) }

// pokeChan sends a token on a one-slot channel without blocking.
func pokeChan(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// write queues b, waiting first if the queue is full (see pipe). It fails
// if the write deadline passes or either end is closed.
func (p *pipe) write(b []byte) error {
	for {
		expired, moved := p.wdl.wait()
		select {
		case <-expired:
			return errTimeout
		default:
		}
		linkChanged := p.link.watch()
		p.mu.Lock()
		switch {
		case p.wclosed:
			p.mu.Unlock()
			return net.ErrClosed
		case p.rclosed || p.reset:
			p.mu.Unlock()
			return errReset
		}
		if p.q.n < sendBuffer || p.link.cut.Load() {
			p.appendLocked(b)
			more := p.writers > 0 && p.q.n < sendBuffer
			p.mu.Unlock()
			p.poke()
			if more {
				pokeChan(p.space) // pass the baton to another writer
			}
			return nil
		}
		p.writers++
		p.mu.Unlock()
		select {
		case <-p.space:
		case <-p.fin:
		case <-p.done:
		case <-expired:
		case <-moved:
		case <-linkChanged:
		}
		p.mu.Lock()
		p.writers--
		p.mu.Unlock()
	}
}

// appendLocked queues b with its delivery time.
func (p *pipe) appendLocked(b []byte) {
	var at time.Time
	if d := p.link.delay.Load(); d > 0 {
		at = time.Now().Add(time.Duration(d))
	}
	p.q.push(at, b)
}

// read blocks until bytes are due, EOF, an error, or the read deadline.
func (p *pipe) read(b []byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		expired, moved := p.rdl.wait()
		select {
		case <-expired:
			return 0, errTimeout
		default:
		}
		linkChanged := p.link.watch() // before reading cut: no lost wake-up
		var due <-chan time.Time
		p.mu.Lock()
		switch {
		case p.rclosed:
			p.mu.Unlock()
			return 0, net.ErrClosed
		case p.reset:
			p.mu.Unlock()
			return 0, errReset
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		}
		if !p.link.cut.Load() {
			if p.q.n > 0 {
				if n, wait := p.q.pop(b); n > 0 {
					more := p.q.n > 0 || p.wclosed
					unblock := p.writers > 0 && p.q.n < sendBuffer
					p.mu.Unlock()
					if more {
						p.poke() // pass the baton to any other reader
					}
					if unblock {
						pokeChan(p.space)
					}
					return n, nil
				} else if timer == nil {
					timer = time.NewTimer(wait)
					due = timer.C
				} else {
					timer.Reset(wait)
					due = timer.C
				}
			} else if p.wclosed {
				p.mu.Unlock()
				p.poke()
				return 0, io.EOF
			}
		}
		var fin <-chan struct{}
		if !p.wclosed {
			fin = p.fin
		}
		p.mu.Unlock()
		select {
		case <-p.notify:
		case <-fin:
		case <-p.done:
		case <-expired:
		case <-moved:
		case <-linkChanged:
		case <-due:
		}
	}
}

// closeRead is the reader end closing: pending and later reads fail with
// net.ErrClosed, later writes with a reset, and queued bytes are freed.
func (p *pipe) closeRead() {
	p.mu.Lock()
	if !p.rclosed && !p.reset {
		close(p.done)
	}
	p.rclosed = true
	p.q.reset()
	p.mu.Unlock()
}

// closeWrite is the writer end closing (FIN): the reader drains what was
// written, then reads io.EOF.
func (p *pipe) closeWrite() {
	p.mu.Lock()
	if !p.wclosed {
		p.wclosed = true
		close(p.fin)
	}
	p.mu.Unlock()
}

// abort resets the direction (RST): the reader fails at once with
// ECONNRESET and queued bytes are discarded.
func (p *pipe) abort() {
	p.mu.Lock()
	if !p.rclosed && !p.reset {
		close(p.done)
	}
	p.reset = true
	p.q.reset()
	p.mu.Unlock()
}
