package transport

import (
	"context"
	"net"
)

// Network opens listeners and connections. Addresses are "ip:port" strings.
//
// Implementations: TCP (the real network) and MemNetwork hosts (an in-memory
// network for tests). Every method is safe for concurrent use.
type Network interface {
	// Listen opens a stream listener on addr. Port 0 picks a free port;
	// the listener's Addr reports the chosen one.
	Listen(addr string) (net.Listener, error)
	// ListenPacket opens a datagram endpoint on addr (UDP on TCP networks).
	// Stream and packet ports are separate spaces, as with TCP and UDP.
	ListenPacket(addr string) (net.PacketConn, error)
	// Dial opens a stream connection to addr. It returns when connected,
	// when refused, or when ctx ends, whichever is first.
	Dial(ctx context.Context, addr string) (net.Conn, error)
}
