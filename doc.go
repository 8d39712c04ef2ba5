// Package concord is Concord's embedded node: the layer that wires the
// ring, gossip membership and (from the replicated-ranges work on) the
// key-value store into one process.
//
// Today it offers RingNode: a ring.Node whose failure detection and ring
// repair are driven by hashicorp/memberlist gossip on the same port. The
// embedded key-value API (Open, Put, Get, ...) builds on it.
//
// This package sits at the top of the layering: it may import any Concord
// package, and no Concord package may import it.
package concord
