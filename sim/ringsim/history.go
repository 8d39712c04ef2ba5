package ringsim

import (
	"slices"
	"sort"
	"sync"
	"time"
)

// history is the simulation's ground truth about membership: when each node
// started joining, finished joining and crashed. Lookup answers are judged
// against it, so a lookup that overlaps a join or a crash may name either
// the old or the new owner.
type history struct {
	mu     sync.RWMutex
	byID   []*record // sorted by id
	byName map[string]*record
}

// record is one node's life. Zero times mean "not yet".
type record struct {
	name      string
	id        uint64
	joinStart time.Time
	joinDone  time.Time
	crashed   time.Time
}

func newHistory() *history {
	return &history{byName: make(map[string]*record)}
}

// begin records that node name with id starts joining at t.
func (h *history) begin(name string, id uint64, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &record{name: name, id: id, joinStart: t}
	h.byName[name] = r
	i := sort.Search(len(h.byID), func(i int) bool { return h.byID[i].id >= id })
	h.byID = slices.Insert(h.byID, i, r)
}

// joined records that name's join (or create) completed at t.
func (h *history) joined(name string, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.byName[name]; r != nil {
		r.joinDone = t
	}
}

// crashed records that name stopped at t: crashed by churn, or given up
// after a failed join.
func (h *history) crashed(name string, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.byName[name]; r != nil && r.crashed.IsZero() {
		r.crashed = t
	}
}

// crashedAt returns when name crashed, if it did.
func (h *history) crashedAt(name string) (time.Time, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r := h.byName[name]
	if r == nil || r.crashed.IsZero() {
		return time.Time{}, false
	}
	return r.crashed, true
}

// verdict classifies a lookup answer.
type verdict int

const (
	answerRight     verdict = iota
	answerDead              // names a node that was not live at any time during the lookup
	answerMisrouted         // names a live node, but a node that surely was live owns the key
)

// judge decides whether owner is an acceptable answer to a lookup of id that
// ran from start to end. A node is surely live during the lookup if it
// finished joining before start and did not crash before end; it is
// possibly live if its join began before end and it did not crash before
// start. The answer is right iff owner is possibly live and no surely-live
// node lies clockwise in [id, owner): then some live set that existed
// during the lookup makes owner the first node at or after id.
func (h *history) judge(id uint64, owner string, start, end time.Time) verdict {
	h.mu.RLock()
	defer h.mu.RUnlock()
	o := h.byName[owner]
	if o == nil || !o.possiblyLive(start, end) {
		return answerDead
	}
	n := len(h.byID)
	i := sort.Search(n, func(i int) bool { return h.byID[i].id >= id })
	for k := 0; k < n; k++ {
		r := h.byID[(i+k)%n]
		if r == o {
			return answerRight
		}
		if r.surelyLive(start, end) {
			return answerMisrouted
		}
	}
	return answerMisrouted
}

func (r *record) surelyLive(start, end time.Time) bool {
	return !r.joinDone.IsZero() && r.joinDone.Before(start) && (r.crashed.IsZero() || r.crashed.After(end))
}

func (r *record) possiblyLive(start, end time.Time) bool {
	return !r.joinStart.After(end) && (r.crashed.IsZero() || !r.crashed.Before(start))
}
