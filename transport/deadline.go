package transport

import (
	"sync"
	"time"
)

// deadline is one settable net.Conn deadline (read or write side) that costs
// nothing until it is used: no timer exists while no deadline is set, and a
// timer exists only between a SetDeadline with a future time and its expiry.
//
// Waiters select on two channels from wait: expired closes when the deadline
// passes, moved closes when the deadline is changed (so a blocked operation
// re-reads it, as net.Conn requires deadlines to apply to pending I/O). The
// zero value is ready to use and means "no deadline".
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	// expired is nil when no deadline is set (a nil channel blocks forever
	// in select), closedChan when it has passed, or a channel the timer
	// closes.
	expired chan struct{}
	// moved is allocated lazily by the first waiter and closed on each set.
	moved chan struct{}
}

// closedChan is a shared, permanently closed channel for past deadlines.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// set replaces the deadline; the zero time removes it. A timer whose callback
// already started closes only its own channel, which is no longer current, so
// no stale expiry can leak into the new deadline.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.moved != nil {
		close(d.moved)
		d.moved = nil
	}
	if t.IsZero() {
		d.expired = nil
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		d.expired = closedChan
		return
	}
	ch := make(chan struct{})
	d.expired = ch
	d.timer = time.AfterFunc(dur, func() { close(ch) })
}

// wait returns the channels a blocked operation selects on.
func (d *deadline) wait() (expired, moved <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.moved == nil {
		d.moved = make(chan struct{})
	}
	return d.expired, d.moved
}

// passed reports whether the deadline has expired, without blocking.
func (d *deadline) passed() bool {
	d.mu.Lock()
	ch := d.expired
	d.mu.Unlock()
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
