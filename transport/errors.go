package transport

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// Sentinel errors. Callers test for them with errors.Is; the values returned
// by this package usually wrap them in a *net.OpError that names the
// operation and the addresses involved.
var (
	// ErrConnRefused is returned by a MemNetwork dial that reached a live
	// host with no listener on the port, the in-memory equivalent of a TCP
	// RST answering the SYN. It is immediate, unlike a dial into a cut link
	// or a crashed host, which hangs until the dialer's context ends.
	ErrConnRefused = errors.New("connection refused")

	// ErrHostDown is returned when a MemNetwork host that is crashed (see
	// MemNetwork.Crash) tries to listen or dial: a dead process cannot act.
	ErrHostDown = errors.New("host is down")

	// ErrPoolClosed is returned by Pool.Conn after Pool.Close, so that a
	// component shutting down cannot accidentally resurrect connections.
	ErrPoolClosed = errors.New("transport: pool closed")
)

// opError wraps err the way package net does, so callers written against real
// sockets (errors.Is(err, net.ErrClosed), err.(net.Error).Timeout(), ...) work
// unchanged on in-memory connections.
func opError(op, network string, source, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: network, Source: source, Addr: addr, Err: err}
}

// Errors shared by stream and packet endpoints. os.ErrDeadlineExceeded is what
// the real network returns on deadline expiry; its Timeout() is true.
var (
	errTimeout = os.ErrDeadlineExceeded
	errReset   = syscall.ECONNRESET
	errInUse   = syscall.EADDRINUSE
)
