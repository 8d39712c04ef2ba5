package transport

import (
	"context"
	"net"
)

// TCP returns the real network: stream connections are TCP, datagrams are
// UDP, and addresses are whatever the operating system accepts ("ip:port",
// "host:port", ":port").
//
// The returned value is stateless and safe for concurrent use; every call
// returns an equivalent Network.
func TCP() Network { return tcpNetwork{} }

// tcpNetwork adapts package net to Network.
type tcpNetwork struct{}

func (tcpNetwork) Listen(addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

func (tcpNetwork) ListenPacket(addr string) (net.PacketConn, error) {
	return net.ListenPacket("udp", addr)
}

func (tcpNetwork) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}
