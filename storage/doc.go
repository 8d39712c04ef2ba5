// Package storage is Concord's on-disk engine: one Pebble database per node
// holding every range replica's Raft log, Raft state, applied state and user
// data, under the key layout defined in keys.go.
//
// It owns the byte layout of keys, the raft.Storage implementation of each
// range (with a node-wide entry cache), synced and unsynced write batches,
// and range snapshots (read from a Pebble snapshot, written by ingesting
// sstables so a receiver never holds a whole range in memory).
//
// Durability: Batch.Commit(true) is durable when it returns;
// Batch.Commit(false) is atomic but may be lost in a crash, never in part;
// SnapshotWriter.Commit is atomic and durable. The engine directory holds
// Pebble's files under pebble/ and snapshots being received under
// snapshots/ (staging only, cleared on Open).
//
// It must never interpret user values (the key-value state machine in
// rangegroup/kv owns their header) and never decide anything about Raft
// membership or placement: it stores what it is told, atomically.
package storage
