package transport

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// memConn is one end of an in-memory stream connection. It reads from rx and
// writes to tx; the other end holds the same two pipes swapped. See pipe for
// the delivery guarantees.
//
// Addresses are shared with the other end and the listener and must not be
// modified by callers.
type memConn struct {
	host          *memHost
	pair          *connPair
	rx, tx        *pipe
	local, remote *net.TCPAddr
	ephemeral     uint16 // outgoing port to free on close; 0 for accepted ends
	closed        atomic.Bool
}

// connPair tracks the two ends of a connection, so the links they use are
// released once both are closed (the survivor may still drain bytes). The
// ends belong to different hosts, whose locks are taken separately, hence
// the atomic count.
type connPair struct {
	open   atomic.Int32 // ends not yet closed
	ab, ba *link
}

// errUnreachable tells Dial that the destination host is down: it waits for
// a change instead of failing.
var errUnreachable = errors.New("transport: host unreachable")

// connect creates a connection from host h to port on host to, queueing the
// accepted end on the listener. It fails with ErrHostDown if h is down,
// errUnreachable if to is, and ErrConnRefused if nothing listens on port.
func (m *MemNetwork) connect(h, to *memHost, port uint16) (*memConn, error) {
	unlock := lockPair(h, to)
	defer unlock()
	switch {
	case h.down:
		return nil, ErrHostDown
	case to.down:
		return nil, errUnreachable
	}
	l := to.listeners[port]
	if l == nil {
		return nil, ErrConnRefused
	}
	local, err := allocLocked(h.streamPorts, &h.nextStream)
	if err != nil {
		return nil, err
	}
	h.streamPorts[local] = struct{}{}
	pair := &connPair{}
	pair.open.Store(2)
	m.linksMu.Lock()
	pair.ab, pair.ba = m.acquireLinkLocked(h.ip, to.ip), m.acquireLinkLocked(to.ip, h.ip)
	m.linksMu.Unlock()
	up, down := newPipe(pair.ab), newPipe(pair.ba)
	laddr := &net.TCPAddr{IP: h.nip, Port: int(local)}
	client := &memConn{host: h, pair: pair, rx: down, tx: up, local: laddr, remote: l.addr, ephemeral: local}
	server := &memConn{host: to, pair: pair, rx: up, tx: down, local: l.addr, remote: laddr}
	h.conns[client] = struct{}{}
	to.conns[server] = struct{}{}
	m.stats.connsOpened.Add(1)
	m.stats.connsOpen.Add(1)
	l.enqueue(server)
	return client, nil
}

// Read reads bytes the other end wrote, in order; io.EOF after it closed.
func (c *memConn) Read(b []byte) (int, error) {
	n, err := c.rx.read(b)
	if err != nil && err != io.EOF {
		err = opError("read", "tcp", c.local, c.remote, err)
	}
	return n, err
}

// Write queues all of b for the other end. It blocks only while the queue
// is full on a link that is not cut (see pipe).
func (c *memConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := c.tx.write(b); err != nil {
		return 0, opError("write", "tcp", c.local, c.remote, err)
	}
	return len(b), nil
}

// Close closes this end: local reads and writes fail with net.ErrClosed,
// the other end reads what was written, then io.EOF.
func (c *memConn) Close() error {
	if c.closed.Swap(true) {
		return opError("close", "tcp", c.local, c.remote, net.ErrClosed)
	}
	c.rx.closeRead()
	c.tx.closeWrite()
	c.host.mu.Lock()
	c.forgetLocked()
	c.host.mu.Unlock()
	return nil
}

// abortLocked closes this end as a crash would: the other end is reset. Its
// host's mu is held.
func (c *memConn) abortLocked() {
	if c.closed.Swap(true) {
		return
	}
	c.rx.closeRead()
	c.tx.abort()
	c.host.m.stats.connsReset.Add(1)
	c.forgetLocked()
}

// forgetLocked unregisters a closed end and frees what it held. Its host's
// mu is held.
func (c *memConn) forgetLocked() {
	h := c.host
	delete(h.conns, c)
	if c.ephemeral != 0 {
		delete(h.streamPorts, c.ephemeral)
	}
	if c.pair.open.Add(-1) == 0 {
		m := h.m
		m.linksMu.Lock()
		m.releaseLinkLocked(c.pair.ab)
		m.releaseLinkLocked(c.pair.ba)
		m.linksMu.Unlock()
		m.stats.connsOpen.Add(-1)
	}
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both deadlines; it applies to pending calls too.
func (c *memConn) SetDeadline(t time.Time) error {
	c.rx.rdl.set(t)
	c.tx.wdl.set(t)
	return nil
}

// SetReadDeadline makes pending and future reads fail with a timeout
// (Timeout() true, errors.Is os.ErrDeadlineExceeded) once t passes.
func (c *memConn) SetReadDeadline(t time.Time) error {
	c.rx.rdl.set(t)
	return nil
}

// SetWriteDeadline makes pending and future writes fail with a timeout once
// t passes.
func (c *memConn) SetWriteDeadline(t time.Time) error {
	c.tx.wdl.set(t)
	return nil
}
