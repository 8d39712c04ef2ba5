package transport

import (
	"sync/atomic"
	"time"
)

// linkKey names one direction between two MemNetwork hosts (by ip).
type linkKey struct{ from, to string }

// link caches the fault state of one direction between two hosts, for the
// stream connections that cross it. Data paths read it with atomic loads
// only, so hundreds of thousands of writes per second never touch the
// network-wide lock; fault changes (rare) recompute it under that lock.
//
// A link exists while at least one stream connection uses either direction of
// its host pair (refs), so memory stays proportional to live connections, not
// to every pair that ever talked.
type link struct {
	key   linkKey
	cut   atomic.Bool
	delay atomic.Int64 // nanoseconds added to every byte's delivery time
	// changed is closed and replaced whenever cut flips, waking readers
	// that hold bytes back because the link was cut.
	changed atomic.Pointer[chan struct{}]
	refs    int // guarded by MemNetwork.linksMu
}

func newLink(key linkKey) *link {
	l := &link{key: key}
	ch := make(chan struct{})
	l.changed.Store(&ch)
	return l
}

// watch returns a channel that closes at the next change of the cut state.
// Load it before reading cut so a change in between is never missed.
func (l *link) watch() <-chan struct{} { return *l.changed.Load() }

// update installs new fault state and wakes waiters if the cut state flipped.
// Callers serialise updates (MemNetwork.linksMu held).
func (l *link) update(cut bool, delay time.Duration) {
	l.delay.Store(int64(delay))
	if l.cut.Swap(cut) != cut {
		ch := make(chan struct{})
		old := l.changed.Swap(&ch)
		close(*old)
	}
}

// acquireLinkLocked returns the shared link state for from->to, creating it from
// the current rules, and takes a reference on it. linksMu is held: a rule
// change publishes its rules before it takes linksMu to update the links, so
// a link created here either sees the new rules or is updated by the change.
func (m *MemNetwork) acquireLinkLocked(from, to string) *link {
	key := linkKey{from, to}
	l := m.links[key]
	if l == nil {
		l = newLink(key)
		r := m.rules.Load()
		l.update(r.cut(from, to), r.delayOf(from, to))
		m.links[key] = l
	}
	l.refs++
	return l
}

// releaseLinkLocked drops a reference taken by acquireLinkLocked; linksMu is
// held.
func (m *MemNetwork) releaseLinkLocked(l *link) {
	if l.refs--; l.refs == 0 {
		delete(m.links, l.key)
	}
}
