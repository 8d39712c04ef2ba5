package raftwire

import "errors"

// Sentinel errors. Callers test for them with errors.Is; returned errors
// wrap them with the peer and operation involved.
var (
	// ErrClosed is returned by SendSnapshot once the Transport is closed
	// (or while it closes).
	ErrClosed = errors.New("raftwire: transport closed")

	// ErrUnknownNode means Config.Resolve has no address for the node.
	ErrUnknownNode = errors.New("raftwire: unknown node")

	// ErrSnapshotRejected means the receiver's HandleSnapshot returned an
	// error; the wrapping error carries the receiver's message.
	ErrSnapshotRejected = errors.New("raftwire: snapshot rejected by receiver")

	// ErrStalled means a snapshot stream made no progress for
	// Config.SnapshotStallTimeout.
	ErrStalled = errors.New("raftwire: snapshot stream stalled")

	// ErrNoAck means a peer did not acknowledge a message batch within
	// Config.AckTimeout, so its stream was declared broken.
	ErrNoAck = errors.New("raftwire: peer stopped acknowledging")

	// ErrInvalidConfig is returned by New for an unusable Config.
	ErrInvalidConfig = errors.New("raftwire: invalid config")
)
