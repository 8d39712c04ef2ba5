// Package storage is Concord's on-disk engine: one Pebble database per node
// holding every range replica's Raft log, Raft state, applied state and user
// data, under the key layout defined in keys.go.
//
// It owns the byte layout of keys, the raft.Storage implementation of each
// range (with a node-wide entry cache), synced and unsynced write batches,
// and range snapshots (read from a Pebble snapshot, written by ingesting
// sstables so a receiver never holds a whole range in memory).
//
// It must never interpret user values (the key-value state machine in
// rangegroup/kv owns their header) and never decide anything about Raft
// membership or placement: it stores what it is told, atomically.
package storage
