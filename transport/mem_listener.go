package transport

import (
	"net"
	"sync"
)

// memListener accepts in-memory stream connections. Dial completes the
// handshake on its own and queues the accepted end, like a kernel backlog;
// the backlog is unbounded. Closing the listener (or crashing its host)
// resets every connection still waiting in the backlog.
type memListener struct {
	host   *memHost
	addr   *net.TCPAddr
	closed bool // guarded by host.mu

	mu     sync.Mutex
	queue  []*memConn
	notify chan struct{} // one-slot wake-up token
	done   chan struct{} // closed on Close
}

func newMemListener(h *memHost, port uint16) *memListener {
	return &memListener{
		host:   h,
		addr:   &net.TCPAddr{IP: h.nip, Port: int(port)},
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

// enqueue hands an accepted end to Accept. The listener's host mu is held
// and the listener is open.
func (l *memListener) enqueue(c *memConn) {
	l.mu.Lock()
	l.queue = append(l.queue, c)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// Accept waits for the next connection or for Close.
func (l *memListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			return nil, opError("accept", "tcp", nil, l.addr, net.ErrClosed)
		default:
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			more := len(l.queue) > 0
			l.mu.Unlock()
			if more {
				select {
				case l.notify <- struct{}{}:
				default:
				}
			}
			return c, nil
		}
		l.mu.Unlock()
		select {
		case <-l.notify:
		case <-l.done:
		}
	}
}

// Close stops accepting and frees the port.
func (l *memListener) Close() error {
	l.host.mu.Lock()
	defer l.host.mu.Unlock()
	if l.closed {
		return opError("close", "tcp", nil, l.addr, net.ErrClosed)
	}
	l.closeLocked()
	return nil
}

// closeLocked closes the listener; its host's mu is held.
func (l *memListener) closeLocked() {
	if l.closed {
		return
	}
	l.closed = true
	port := uint16(l.addr.Port)
	delete(l.host.listeners, port)
	delete(l.host.streamPorts, port)
	l.mu.Lock()
	queued := l.queue
	l.queue = nil
	close(l.done)
	l.mu.Unlock()
	for _, c := range queued {
		c.abortLocked()
	}
}

// Addr is a *net.TCPAddr with the host's ip and the bound port.
func (l *memListener) Addr() net.Addr { return l.addr }
