package transport

import (
	"errors"
	"net"
	"sync"
	"time"
)

// splitPeekTimeout bounds how long a new connection may stay silent before
// SplitGRPC gives up on it, so a client that connects and sends nothing
// ties up one goroutine for a while but never blocks other connections.
const splitPeekTimeout = 10 * time.Second

// http2Preface is the start of the client connection preface every
// plaintext HTTP/2 (hence gRPC) client sends first.
const http2Preface = "PRI * HTTP/2.0"

// tlsHandshakeRecord is the first byte of a TLS ClientHello record.
const tlsHandshakeRecord = 0x16

// SplitGRPC lets gRPC and another stream protocol share one listener.
// Connections whose first bytes are the HTTP/2 client preface
// ("PRI * HTTP/2.0"), or a TLS handshake record (0x16, so that gRPC over TLS
// is recognised too), are handed to grpcL; all others to other. The other
// protocol must therefore never begin with 'P' or 0x16, which holds for
// hashicorp/memberlist streams (their first byte is a small message type).
//
// The bytes read to decide are replayed to whoever accepts the connection.
// A connection that sends nothing within 10s, or closes before the decision,
// is closed. Each new connection is classified on its own short-lived
// goroutine, so a slow client never delays the others.
//
// Closing one returned listener makes its Accept return net.ErrClosed and
// closes connections routed to it afterwards; the underlying listener is
// closed when both are closed. If the underlying listener fails (for example
// it is closed directly), both Accepts return its error.
func SplitGRPC(l net.Listener) (grpcL, other net.Listener) {
	s := &splitter{l: l, dead: make(chan struct{})}
	s.grpc = &subListener{s: s, ch: make(chan net.Conn), done: make(chan struct{})}
	s.other = &subListener{s: s, ch: make(chan net.Conn), done: make(chan struct{})}
	go s.acceptLoop()
	return s.grpc, s.other
}

// splitter owns the underlying listener and its accept goroutine.
type splitter struct {
	l           net.Listener
	grpc, other *subListener

	mu      sync.Mutex
	nclosed int  // sub-listeners closed so far
	closed  bool // both sub-listeners closed; l is being closed

	dead chan struct{} // closed when acceptLoop ends
	err  error         // why acceptLoop ended; set before dead closes
}

func (s *splitter) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := s.l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				s.err = err
				if closed {
					s.err = net.ErrClosed
				}
				close(s.dead)
				return
			}
			// Transient failure (such as too many open files): retry
			// with backoff, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go s.route(c)
	}
}

// route classifies c by its first bytes and hands it over.
func (s *splitter) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(splitPeekTimeout))
	var buf [len(http2Preface)]byte
	n := 0
	isGRPC := false
	for {
		k, err := c.Read(buf[n:])
		n += k
		if n > 0 {
			if buf[0] == tlsHandshakeRecord {
				isGRPC = true
				break
			}
			if string(buf[:n]) != http2Preface[:n] {
				break
			}
			if n == len(buf) {
				isGRPC = true
				break
			}
		}
		if err != nil {
			_ = c.Close()
			return
		}
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		_ = c.Close()
		return
	}
	target := s.other
	if isGRPC {
		target = s.grpc
	}
	target.deliver(&peekedConn{Conn: c, peeked: append([]byte(nil), buf[:n]...)})
}

// subListenerClosed is called once per sub-listener Close.
func (s *splitter) subListenerClosed() error {
	s.mu.Lock()
	s.nclosed++
	last := s.nclosed == 2
	if last {
		s.closed = true
	}
	s.mu.Unlock()
	if last {
		return s.l.Close()
	}
	return nil
}

// subListener is one side of a SplitGRPC.
type subListener struct {
	s    *splitter
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

// deliver waits for Accept to take c, or closes c if this side is closed or
// the splitter died.
func (sl *subListener) deliver(c net.Conn) {
	select {
	case sl.ch <- c:
	case <-sl.done:
		_ = c.Close()
	case <-sl.s.dead:
		_ = c.Close()
	}
}

// Accept returns the next connection for this protocol.
func (sl *subListener) Accept() (net.Conn, error) {
	select {
	case <-sl.done:
		return nil, opError("accept", sl.Addr().Network(), nil, sl.Addr(), net.ErrClosed)
	default:
	}
	select {
	case c := <-sl.ch:
		return c, nil
	case <-sl.done:
		return nil, opError("accept", sl.Addr().Network(), nil, sl.Addr(), net.ErrClosed)
	case <-sl.s.dead:
		return nil, opError("accept", sl.Addr().Network(), nil, sl.Addr(), sl.s.err)
	}
}

// Close closes this side; the second Close also closes the shared listener.
func (sl *subListener) Close() error {
	err := opError("close", sl.Addr().Network(), nil, sl.Addr(), net.ErrClosed)
	sl.once.Do(func() {
		close(sl.done)
		err = sl.s.subListenerClosed()
	})
	return err
}

// Addr is the shared listener's address.
func (sl *subListener) Addr() net.Addr { return sl.s.l.Addr() }

// peekedConn replays the bytes read for classification before reading on.
type peekedConn struct {
	net.Conn
	peeked []byte
}

func (c *peekedConn) Read(b []byte) (int, error) {
	if len(c.peeked) > 0 {
		n := copy(b, c.peeked)
		c.peeked = c.peeked[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
