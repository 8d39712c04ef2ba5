package transport

import "sync/atomic"

// MemStats counts what happened on a MemNetwork since it was created, so
// tests and the simulator can check that faults really bit (for example that
// a loss rule dropped datagrams) and report traffic. Counters only grow,
// except ConnsOpen.
type MemStats struct {
	// Dials is the number of Dial calls.
	Dials int64
	// DialsRefused counts dials that failed with ErrConnRefused.
	DialsRefused int64
	// DialsTimedOut counts dials that ended because their context ended
	// before the destination became reachable (cut link, crashed or
	// unknown host).
	DialsTimedOut int64
	// ConnsOpened counts stream connections established.
	ConnsOpened int64
	// ConnsOpen is the number of stream connections with at least one end
	// not yet closed.
	ConnsOpen int64
	// ConnsReset counts connection ends killed by Crash or by closing a
	// listener with a backlog; their peers saw a reset.
	ConnsReset int64
	// DatagramsSent counts WriteTo calls that passed argument checks.
	DatagramsSent int64
	// DatagramsDelivered counts datagrams queued at a receiver.
	DatagramsDelivered int64
	// DatagramsDropped counts datagrams lost for any reason: cut link,
	// crashed or unknown host, no socket on the port, full receive queue,
	// or SetLoss. DatagramsSent = DatagramsDelivered + DatagramsDropped.
	DatagramsDropped int64
	// DatagramsLost is the part of DatagramsDropped due to SetLoss.
	DatagramsLost int64
	// RPCsDropped counts unary RPCs dropped by the loss interceptor that
	// Pool installs on MemNetwork hosts.
	RPCsDropped int64
}

// memStats is the live, atomically updated form of MemStats.
type memStats struct {
	dials, dialsRefused, dialsTimedOut          atomic.Int64
	connsOpened, connsOpen, connsReset          atomic.Int64
	datagramsSent, datagramsDelivered           atomic.Int64
	datagramsDropped, datagramsLost, rpcDropped atomic.Int64
}

// Stats returns a snapshot of the counters. Counters are read one by one,
// so a snapshot taken under traffic may be off by in-flight operations.
func (m *MemNetwork) Stats() MemStats {
	s := &m.stats
	return MemStats{
		Dials:              s.dials.Load(),
		DialsRefused:       s.dialsRefused.Load(),
		DialsTimedOut:      s.dialsTimedOut.Load(),
		ConnsOpened:        s.connsOpened.Load(),
		ConnsOpen:          s.connsOpen.Load(),
		ConnsReset:         s.connsReset.Load(),
		DatagramsSent:      s.datagramsSent.Load(),
		DatagramsDelivered: s.datagramsDelivered.Load(),
		DatagramsDropped:   s.datagramsDropped.Load(),
		DatagramsLost:      s.datagramsLost.Load(),
		RPCsDropped:        s.rpcDropped.Load(),
	}
}
