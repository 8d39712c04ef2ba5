package raftwire

import "sync/atomic"

// Stats are a Transport's counters since New. Every message given to Send
// ends up counted exactly once, in MessagesSent or one of the Dropped
// counters, once its peer's queue has drained.
type Stats struct {
	// MessagesSent and BatchesSent count raft messages written to peer
	// streams and the stream messages that carried them (a batch is a
	// piece of a message when the message is larger than MaxBatchBytes).
	MessagesSent uint64
	BatchesSent  uint64
	// MessagesReceived and BatchesReceived count what peers' streams
	// delivered to the Handler.
	MessagesReceived uint64
	BatchesReceived  uint64
	// DroppedQueueFull counts messages Send refused because the peer's
	// queue was full.
	DroppedQueueFull uint64
	// DroppedUnreachable counts messages discarded because the peer's
	// stream was down, broke, or could not be opened.
	DroppedUnreachable uint64
	// DroppedClosed counts messages sent after Close or still queued at
	// Close.
	DroppedClosed uint64
	// DroppedInvalid counts messages that could not be encoded (or were
	// nil).
	DroppedInvalid uint64
	// StreamFailures counts message streams that broke or could not be
	// opened; StreamsOpened counts those that were opened.
	StreamFailures uint64
	StreamsOpened  uint64
	// Peers is the number of peers with a running sender goroutine.
	Peers int

	// SnapshotsSent counts outgoing snapshots the receiver accepted,
	// SnapshotsFailed the others; SnapshotBytesSent counts chunk bytes
	// written, whatever the outcome.
	SnapshotsSent     uint64
	SnapshotsFailed   uint64
	SnapshotBytesSent uint64
	// SnapshotsReceived counts incoming snapshots the Handler accepted;
	// SnapshotBytesReceived counts chunk bytes handed to it.
	SnapshotsReceived     uint64
	SnapshotBytesReceived uint64
	// SnapshotsInFlight is the number of outgoing snapshots holding a
	// concurrency slot; SnapshotsWaiting the number waiting for one.
	SnapshotsInFlight int
	SnapshotsWaiting  int
}

// counters are the live values behind Stats.
type counters struct {
	messagesSent, batchesSent                 atomic.Uint64
	messagesReceived, batchesReceived         atomic.Uint64
	droppedQueueFull, droppedUnreachable      atomic.Uint64
	droppedClosed, droppedInvalid             atomic.Uint64
	streamFailures, streamsOpened             atomic.Uint64
	snapshotsSent, snapshotsFailed, snapBytes atomic.Uint64
	snapshotsReceived, snapBytesReceived      atomic.Uint64
	snapshotsInFlight, snapshotsWaiting       atomic.Int64
}

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	c := &t.stats
	t.mu.RLock()
	peers := len(t.peers)
	t.mu.RUnlock()
	return Stats{
		MessagesSent:          c.messagesSent.Load(),
		BatchesSent:           c.batchesSent.Load(),
		MessagesReceived:      c.messagesReceived.Load(),
		BatchesReceived:       c.batchesReceived.Load(),
		DroppedQueueFull:      c.droppedQueueFull.Load(),
		DroppedUnreachable:    c.droppedUnreachable.Load(),
		DroppedClosed:         c.droppedClosed.Load(),
		DroppedInvalid:        c.droppedInvalid.Load(),
		StreamFailures:        c.streamFailures.Load(),
		StreamsOpened:         c.streamsOpened.Load(),
		Peers:                 peers,
		SnapshotsSent:         c.snapshotsSent.Load(),
		SnapshotsFailed:       c.snapshotsFailed.Load(),
		SnapshotBytesSent:     c.snapBytes.Load(),
		SnapshotsReceived:     c.snapshotsReceived.Load(),
		SnapshotBytesReceived: c.snapBytesReceived.Load(),
		SnapshotsInFlight:     int(c.snapshotsInFlight.Load()),
		SnapshotsWaiting:      int(c.snapshotsWaiting.Load()),
	}
}

// Dropped is the sum of the Dropped counters.
func (s Stats) Dropped() uint64 {
	return s.DroppedQueueFull + s.DroppedUnreachable + s.DroppedClosed + s.DroppedInvalid
}
