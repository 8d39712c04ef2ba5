// Package transport is how Concord processes reach each other.
//
// It owns the Network abstraction (real TCP/UDP, or an in-memory network
// with injectable faults for tests and the simulator), the gRPC plumbing that
// runs over a Network (servers on a custom listener, clients through a custom
// dialer, one cached connection per peer address, a deadline on every call),
// TLS and mutual TLS, and a listener multiplexer that lets gRPC and gossip
// streams share one port.
//
// It must never know what is sent over it: no ring, membership or raft types
// appear here, and nothing in this package imports another Concord package.
package transport
