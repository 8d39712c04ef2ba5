// Package kvsim is the load generator for Concord's multi-raft engine
// (rangegroup): it builds an in-process cluster of Stores whose engines
// live in a temporary directory on disk, connected by the in-memory
// network or by loopback TCP, drives it with concurrent clients for a fixed
// time, and reports throughput, latency percentiles and errors by kind.
// With a baseline it first measures a raw Pebble loop of one-key synced
// batches at the same client count, so the Store's write path can be read
// as a fraction of what the disk allows.
//
// Run is the entry point for programs; Main parses a command line for
// `go run ./sim kv`. Results from it are recorded in docs/benchmarks.md.
//
// It must never be imported by Concord's own packages (nothing imports
// sim/), never route requests the way router/ will (clients address the
// range leaders it found directly), and never leave files behind: the
// temporary directory is removed when Run returns, however it returns.
package kvsim
