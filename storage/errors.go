package storage

import "errors"

// Sentinel errors callers branch on. Errors returned by this package wrap
// them (test with errors.Is); raft.ErrCompacted, raft.ErrUnavailable and
// raft.ErrSnapshotTemporarilyUnavailable are returned unwrapped where
// raft.Storage requires them, because raft compares them with ==.
var (
	// ErrClosed is returned by an Engine after Close.
	ErrClosed = errors.New("storage: engine closed")
	// ErrBatchDone is returned by a Batch that was already committed or
	// closed: a batch is single-use.
	ErrBatchDone = errors.New("storage: batch already committed or closed")
	// ErrUninitialized means a range has no applied state on this node: it
	// was never bootstrapped, split off, or given a snapshot here.
	ErrUninitialized = errors.New("storage: range has no applied state")
	// ErrDestroyed is returned by writes through a RaftLog whose range was
	// destroyed; open a new RaftLog if the range comes back.
	ErrDestroyed = errors.New("storage: range destroyed")
	// ErrLogGap is returned by RaftLog.Append for entries that would leave
	// a hole after the log's last index, or that are not consecutive.
	ErrLogGap = errors.New("storage: raft log entries not contiguous")
	// ErrSnapshotKey is returned by SnapshotWriter.Add for a key that is
	// not strictly greater than the previous one or lies outside the arc of
	// the snapshot's descriptor.
	ErrSnapshotKey = errors.New("storage: snapshot key out of order or outside the range")
)
