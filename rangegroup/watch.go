package rangegroup

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage/storagepb"
)

// Watching: every replica reports the key changes it applies, so a watch
// can be served by any replica of a range, and resumed on another one.
//
// The Store keeps one bounded history of recent changes for all its
// replicas (not one per range: ten thousand idle ranges must cost
// nothing), and for each range the revision from which that history is
// complete. A watch that starts at an older revision than a replica can
// vouch for fails with ErrCompacted: the caller has to re-read the current
// state instead of replaying changes.

// ErrCompacted: the changes a watch asked for are no longer in the
// serving replica's history (it restarted, installed a snapshot, or the
// history's budget evicted them).
var ErrCompacted = errors.New("rangegroup: watch history compacted")

// ErrWatchInterrupted ends a subscription that can be resumed, on this
// replica or another, from Subscription.ResumeFrom: its range split,
// merged or moved, or the subscriber fell too far behind.
var ErrWatchInterrupted = errors.New("rangegroup: watch interrupted")

// Event is one change of a key, as a replica applied it.
type Event struct {
	// Key is the user key.
	Key []byte
	// Record is the key's new record; nil when the change deleted it.
	Record *kv.Record
	// Revision is the revision of the command that made the change: the
	// record's ModRevision for a write.
	Revision uint64
	// Expired marks the delete of an expired key by the TTL sweep.
	Expired bool
}

// WatchSpec says what a subscription watches.
type WatchSpec struct {
	// RangeID is the range whose changes are watched.
	RangeID uint64
	// Key is the key watched, or with Prefix the prefix of the keys.
	Key    []byte
	Prefix bool
	// From is the first revision wanted; the history replays changes
	// from it. 0 means from now on.
	From uint64
}

func (w WatchSpec) matches(key []byte) bool {
	if w.Prefix {
		return bytes.HasPrefix(key, w.Key)
	}
	return bytes.Equal(key, w.Key)
}

// Subscription delivers the changes a WatchSpec selects, in revision
// order, on C. C is closed when the subscription ends; Err then says why.
type Subscription struct {
	// C delivers batches of events; every batch is non-empty.
	C <-chan []Event

	c    chan []Event
	hub  *watchHub
	spec WatchSpec
	// start is the first revision the subscription delivers: spec.From,
	// or the replica's next revision.
	start uint64

	// Guarded by hub.mu.
	ended      bool
	err        error
	resumeFrom uint64
}

// subscriptionBuffer is how many batches a subscriber may fall behind
// before its subscription is interrupted (it resumes from history).
const subscriptionBuffer = 256

// Err is why the subscription ended: ErrWatchInterrupted (resume from
// ResumeFrom), ErrStopped, or nil when Close ended it. Valid once C is
// closed.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// ResumeFrom is the revision a new subscription must start from to miss
// nothing this one did not deliver. Valid once C is closed.
func (s *Subscription) ResumeFrom() uint64 {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.resumeFrom
}

// Start is the first revision the subscription delivers changes from.
func (s *Subscription) Start() uint64 { return s.start }

// Close ends the subscription; C is closed. Safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.endLocked(s, nil, s.resumeFrom)
}

// watchHub is the Store's history and subscriptions.
type watchHub struct {
	mu sync.Mutex
	// history is a FIFO of recent events over all ranges, oldest first,
	// bounded by maxEvents and maxBytes.
	history   []rangeEvent
	head      int
	bytes     int
	maxEvents int
	maxBytes  int
	// complete maps a range to the revision from which history holds all
	// of its changes on this node. Ranges without an entry have no
	// history (their replica is not started).
	complete map[uint64]uint64
	subs     map[uint64]map[*Subscription]struct{}
}

type rangeEvent struct {
	rangeID uint64
	change
}

func newWatchHub(maxEvents, maxBytes int) *watchHub {
	return &watchHub{
		maxEvents: maxEvents,
		maxBytes:  maxBytes,
		complete:  make(map[uint64]uint64),
		subs:      make(map[uint64]map[*Subscription]struct{}),
	}
}

// start records that a range's replica begins applying after applied:
// history is complete for it from applied+1. Subscribers of an earlier
// incarnation are interrupted (a snapshot replaced the state they saw).
func (h *watchHub) start(rangeID, applied uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.complete[rangeID] = applied + 1
	for s := range h.subs[rangeID] {
		h.endLocked(s, ErrWatchInterrupted, s.resumeFrom)
	}
}

// publish appends one range's applied changes to the history and delivers
// them. Called in apply order for each range.
func (h *watchHub) publish(rangeID uint64, changes []change) {
	if len(changes) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range changes {
		h.history = append(h.history, rangeEvent{rangeID: rangeID, change: c})
		h.bytes += c.size()
	}
	h.evictLocked()
	for s := range h.subs[rangeID] {
		h.deliverLocked(s, changes)
	}
}

// wants reports whether s is still to deliver c: a change it has not had,
// of a key it watches.
func (s *Subscription) wants(c *change) bool {
	return c.rev >= s.resumeFrom && s.spec.matches(c.key)
}

// batchFor decodes the changes s wants, in order: those it has not had and
// whose key it watches.
func (s *Subscription) batchFor(changes []change) ([]Event, error) {
	var batch []Event
	for i := range changes {
		c := &changes[i]
		if !s.wants(c) {
			continue
		}
		ev, err := c.event()
		if err != nil {
			return nil, err
		}
		batch = append(batch, ev)
	}
	return batch, nil
}

// deliverLocked sends s the changes it wants without blocking the applying
// worker: a subscriber whose buffer is full is interrupted, to resume from
// history.
func (h *watchHub) deliverLocked(s *Subscription, changes []change) {
	if s.ended {
		return
	}
	batch, err := s.batchFor(changes)
	if err != nil {
		h.endLocked(s, err, s.resumeFrom)
		return
	}
	if len(batch) == 0 {
		return
	}
	select {
	case s.c <- batch:
		s.resumeFrom = batch[len(batch)-1].Revision + 1
	default:
		h.endLocked(s, ErrWatchInterrupted, s.resumeFrom)
	}
}

// evictLocked drops the oldest events beyond the budget, moving their
// ranges' completeness past them.
func (h *watchHub) evictLocked() {
	for len(h.history)-h.head > 0 && (len(h.history)-h.head > h.maxEvents || h.bytes > h.maxBytes) {
		e := &h.history[h.head]
		h.bytes -= e.size()
		if from, ok := h.complete[e.rangeID]; ok && from <= e.rev {
			h.complete[e.rangeID] = e.rev + 1
		}
		h.history[h.head] = rangeEvent{}
		h.head++
	}
	// Compact the slice once most of it is dead.
	if h.head > 1024 && h.head*2 > len(h.history) {
		h.history = append(h.history[:0], h.history[h.head:]...)
		h.head = 0
	}
}

// interrupt ends every subscription of a range so that its subscribers
// resume elsewhere: the range's span changed (split, merge) or its replica
// here is gone. No change at or below through is still to come from this
// replica for them, so they resume from through+1 at the earliest.
func (h *watchHub) interrupt(rangeID, through uint64, forget bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[rangeID] {
		h.endLocked(s, ErrWatchInterrupted, max(s.resumeFrom, through+1))
	}
	if forget {
		delete(h.complete, rangeID)
	}
}

// stop ends every subscription with ErrStopped.
func (h *watchHub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.subs {
		for s := range subs {
			h.endLocked(s, ErrStopped, s.resumeFrom)
		}
	}
}

func (h *watchHub) endLocked(s *Subscription, err error, resumeFrom uint64) {
	if s.ended {
		return
	}
	s.ended, s.err, s.resumeFrom = true, err, resumeFrom
	close(s.c)
	if subs := h.subs[s.spec.RangeID]; subs != nil {
		delete(subs, s)
		if len(subs) == 0 {
			delete(h.subs, s.spec.RangeID)
		}
	}
}

// subscribe registers a subscription and replays the history it asks for.
// applied is the replica's applied index, read under the replica's lock
// together with the check that it serves the range.
func (h *watchHub) subscribe(spec WatchSpec, applied uint64) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	from, ok := h.complete[spec.RangeID]
	if !ok {
		return nil, fmt.Errorf("range %d: %w", spec.RangeID, ErrRangeNotFound)
	}
	c := make(chan []Event, subscriptionBuffer)
	s := &Subscription{C: c, c: c, hub: h, spec: spec, resumeFrom: spec.From}
	if spec.From == 0 {
		s.resumeFrom = applied + 1
	} else if spec.From < from {
		return nil, fmt.Errorf("range %d: changes from revision %d wanted, history holds them from %d: %w",
			spec.RangeID, spec.From, from, ErrCompacted)
	}
	s.start = s.resumeFrom
	var replay []change
	for i := h.head; i < len(h.history); i++ {
		if e := &h.history[i]; e.rangeID == spec.RangeID && s.wants(&e.change) {
			replay = append(replay, e.change)
		}
	}
	if h.subs[spec.RangeID] == nil {
		h.subs[spec.RangeID] = make(map[*Subscription]struct{})
	}
	h.subs[spec.RangeID][s] = struct{}{}
	// Replay in batches the buffer can hold, so a long replay is not
	// mistaken for a slow subscriber.
	const replayBatch = 256
	for len(replay) > 0 && !s.ended {
		n := min(len(replay), replayBatch)
		h.deliverLocked(s, replay[:n])
		replay = replay[n:]
	}
	return s, nil
}

// appliedRevision is the revision of the last command a state covers.
func appliedRevision(s *storagepb.AppliedState) uint64 {
	return s.GetIndex() + s.GetRevisionOffset()
}

// Watch subscribes to the changes of spec.Key (or of the keys starting
// with it) in range spec.RangeID that this node's replica applies, from
// revision spec.From (0: from the next one applied). Every replica of the
// range delivers the same changes in the same order, so a subscription
// interrupted on one can resume on another from ResumeFrom. It fails with
// ErrRangeNotFound when this node has no initialized replica of the range,
// a kv.RangeMismatchError-wrapping error when the key is outside it, and
// ErrCompacted when the history no longer holds spec.From.
func (s *Store) Watch(spec WatchSpec) (*Subscription, error) {
	r, err := s.replica(spec.RangeID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.descriptorLocked()
	if d == nil || r.destroyed {
		return nil, fmt.Errorf("range %d: replica not initialized: %w", spec.RangeID, ErrRangeNotFound)
	}
	if !arcOf(d).Contains(s.cfg.Machine.Position(spec.Key)) {
		return nil, &RangeMismatchError{Descriptor: d, err: kv.ErrRangeMismatch}
	}
	// Holding r.mu keeps the replica from publishing between the check
	// and the registration, so no change falls between replay and live
	// delivery.
	return s.watch.subscribe(spec, appliedRevision(r.state))
}
