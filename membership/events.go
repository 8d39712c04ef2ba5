package membership

import (
	"bytes"
	"context"
	"log/slog"
	"sync"

	"github.com/hashicorp/memberlist"
)

// eventQueue decouples memberlist from event consumers. memberlist calls its
// EventDelegate with its node lock held, so a callback that blocked would
// stall probes and gossip; push therefore only appends to an unbounded slice,
// and one goroutine (run) moves events, in push order, to the unbuffered out
// channel. Invariants: events are delivered in push order, each at most
// once; after close, push is a no-op, run has returned, and out is closed.
type eventQueue struct {
	mu     sync.Mutex
	items  []Event
	closed bool

	wake chan struct{} // capacity 1: "items may be non-empty"
	out  chan Event
	stop chan struct{}
	done chan struct{}
}

// newEventQueue starts the delivery goroutine.
func newEventQueue() *eventQueue {
	q := &eventQueue{
		wake: make(chan struct{}, 1),
		out:  make(chan Event),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go q.run()
	return q
}

// push enqueues e without ever blocking on the consumer.
func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events until close.
func (q *eventQueue) run() {
	defer close(q.done)
	defer close(q.out)
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			q.items = nil // let a drained burst's backing array be collected
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-q.stop:
				return
			}
		}
		e := q.items[0]
		q.items[0] = Event{}
		q.items = q.items[1:]
		q.mu.Unlock()
		select {
		case q.out <- e:
		case <-q.stop:
			return
		}
	}
}

// close discards undelivered events, stops run and waits for it, leaving out
// closed. It is idempotent.
func (q *eventQueue) close() {
	q.mu.Lock()
	already := q.closed
	q.closed = true
	q.items = nil
	q.mu.Unlock()
	if !already {
		close(q.stop)
	}
	<-q.done
}

// eventDelegate translates memberlist's callbacks into Events and keeps the
// table of live members that Members and Member read.
//
// The table exists because memberlist's own Members and LocalNode return
// pointers to nodes that it keeps mutating under its internal lock, so
// reading them races; the callbacks, in contrast, run with that lock held and
// see each change exactly once. Invariants: members holds exactly the nodes
// memberlist considers alive or suspect, each as of its last callback, with
// its metadata still encoded: every node keeps an entry for every member, so
// a decoded map per entry would cost a cluster of n nodes in one process
// (the simulator) n² maps. Readers decode what they return, and comparing
// the user part of two encodings tells a change of metadata from a change
// of flags alone (the leave notice), which is not reported as Updated.
type eventDelegate struct {
	q        *eventQueue
	logger   *slog.Logger
	conflict func(name, otherAddr string) bool // schedules a re-announcement; true if new

	mu      sync.RWMutex
	members map[string]liveMember
}

// liveMember is one entry of the member table.
type liveMember struct {
	addr string
	meta []byte // as gossiped (see encodeMeta); owned by the table
}

var (
	_ memberlist.EventDelegate    = (*eventDelegate)(nil)
	_ memberlist.ConflictDelegate = (*eventDelegate)(nil)
)

// newEventDelegate returns a delegate feeding q and reporting name conflicts
// to conflict.
func newEventDelegate(q *eventQueue, logger *slog.Logger, conflict func(name, otherAddr string) bool) *eventDelegate {
	return &eventDelegate{q: q, logger: logger, conflict: conflict, members: map[string]liveMember{}}
}

// NotifyJoin implements memberlist.EventDelegate.
func (d *eventDelegate) NotifyJoin(n *memberlist.Node) {
	m, _ := memberFromNode(n, StateAlive, d.logger)
	d.mu.Lock()
	d.members[n.Name] = liveMember{addr: m.Addr, meta: bytes.Clone(n.Meta)}
	d.mu.Unlock()
	d.q.push(Event{Kind: Joined, Member: m})
}

// NotifyUpdate implements memberlist.EventDelegate.
func (d *eventDelegate) NotifyUpdate(n *memberlist.Node) {
	addr := n.Address()
	d.mu.Lock()
	prev, known := d.members[n.Name]
	same := known && bytes.Equal(metaPayload(prev.meta), metaPayload(n.Meta))
	d.members[n.Name] = liveMember{addr: addr, meta: bytes.Clone(n.Meta)}
	d.mu.Unlock()
	if !same {
		m, _ := memberFromNode(n, StateAlive, d.logger)
		d.q.push(Event{Kind: Updated, Member: m})
	}
}

// NotifyLeave implements memberlist.EventDelegate. memberlist calls it both
// for graceful departures and for deaths; the leave flag in the member's
// last metadata tells them apart.
func (d *eventDelegate) NotifyLeave(n *memberlist.Node) {
	d.mu.Lock()
	delete(d.members, n.Name)
	d.mu.Unlock()
	m, flags := memberFromNode(n, StateDead, d.logger)
	kind := Failed
	if flags&flagLeaving != 0 {
		kind, m.State = Left, StateLeft
	}
	d.q.push(Event{Kind: kind, Member: m})
}

// member decodes an entry of the table. Undecodable metadata was logged when
// the entry arrived; here it reads as empty.
func (lm liveMember) member(name string) Member {
	meta, _, err := decodeMeta(lm.meta)
	if err != nil {
		meta = map[string]string{}
	}
	return Member{Name: name, Addr: lm.addr, Meta: meta, State: StateAlive}
}

// live returns the live members, in no particular order.
func (d *eventDelegate) live() []Member {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Member, 0, len(d.members))
	for name, lm := range d.members {
		out = append(out, lm.member(name))
	}
	return out
}

// lookup returns the live member called name.
func (d *eventDelegate) lookup(name string) (Member, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	lm, ok := d.members[name]
	if !ok {
		return Member{Meta: map[string]string{}}, false
	}
	return lm.member(name), true
}

// size returns the number of live members.
func (d *eventDelegate) size() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.members)
}

// NotifyConflict implements memberlist.ConflictDelegate: a name was announced
// at an address other than the one memberlist holds for it, which memberlist
// refuses (it keeps the one it knew). That is usually a restart at a new
// address before the previous incarnation is reclaimable, so a
// re-announcement is scheduled (see reannounce.go); otherwise two live nodes
// share a name. Either way it is logged, never a panic.
func (d *eventDelegate) NotifyConflict(existing, other *memberlist.Node) {
	level := slog.LevelDebug
	if d.conflict(existing.Name, other.Address()) {
		level = slog.LevelWarn
	}
	d.logger.Log(context.Background(), level, "membership: node name conflict", "name", existing.Name,
		"known_addr", existing.Address(), "other_addr", other.Address())
}
