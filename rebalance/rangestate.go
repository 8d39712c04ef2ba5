package rebalance

import (
	"time"

	"github.com/concord-kv/concord/rangegroup"
)

// rangeState is what the rebalancer remembers of a range between passes,
// all of it about its own recent actions. Guarded by Rebalancer.mu.
type rangeState struct {
	// busy: an action on the range is running; adding: it adds a learner.
	busy   bool
	adding bool
	// endedAt is the Rebalancer.ended count when its last action ended.
	endedAt uint64
	// jointGen and jointUntil hold the range after a joint configuration
	// change: Raft leaves the joint configuration on its own with one more
	// entry, and drops any configuration change proposed before that. The
	// hold ends when the descriptor generation reaches jointGen, or at
	// jointUntil (leadership may have moved, leaving the generation here
	// where it was).
	jointGen   uint64
	jointUntil time.Time
	// failedAt is when an action on the range last failed: the range is
	// left alone for Interval after it, so that triggers never make a
	// failing action spin.
	failedAt time.Time
	// changedAt is when a replica change of the range last succeeded.
	// Leadership is not transferred for Interval after it: a follower that
	// has not applied a committed configuration change refuses to
	// campaign, and Raft abandons the transfer without a word.
	changedAt time.Time
}

// stateLocked returns the remembered state of a range, creating it.
// Callers hold r.mu.
func (r *Rebalancer) stateLocked(rangeID uint64) *rangeState {
	st := r.ranges[rangeID]
	if st == nil {
		st = &rangeState{}
		r.ranges[rangeID] = st
	}
	return st
}

// epoch returns the count of actions ended so far.
func (r *Rebalancer) epoch() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// heldSince returns the test of whether a pass that read the Store's
// ranges after epoch must skip a range: an action on it is running, or
// ended after epoch (the pass's view of the range predates its outcome),
// or failed less than Interval ago, or the range is still in a joint
// configuration this node entered.
func (r *Rebalancer) heldSince(epoch uint64) func(rangegroup.RangeInfo) bool {
	return func(info rangegroup.RangeInfo) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		st := r.ranges[info.RangeID]
		if st == nil {
			return false
		}
		if st.jointGen != 0 && (info.Descriptor.GetGeneration() >= st.jointGen || time.Now().After(st.jointUntil)) {
			st.jointGen = 0
		}
		return st.busy || st.endedAt > epoch || time.Since(st.failedAt) < r.cfg.Interval || st.jointGen != 0
	}
}

// settling reports whether a replica change of the range succeeded less
// than Interval ago.
func (r *Rebalancer) settling(rangeID uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.ranges[rangeID]
	return st != nil && time.Since(st.changedAt) < r.cfg.Interval
}

// busyAdds counts the learner additions running now.
func (r *Rebalancer) busyAdds() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, st := range r.ranges {
		if st.busy && st.adding {
			n++
		}
	}
	return n
}

// begin marks a range busy with an action (both ranges of a merge).
func (r *Rebalancer) begin(ra rangeAction) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ra.ranges() {
		st := r.stateLocked(id)
		st.busy = true
		st.adding = ra.action.Kind == AddLearner
	}
}

// ranges are the ranges an action involves.
func (ra rangeAction) ranges() []uint64 {
	if ra.action.With != 0 {
		return []uint64{ra.info.RangeID, ra.action.With}
	}
	return []uint64{ra.info.RangeID}
}

// end records an action's outcome.
func (r *Rebalancer) end(ra rangeAction, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended++
	for _, id := range ra.ranges() {
		st := r.stateLocked(id)
		st.busy, st.adding = false, false
		st.endedAt = r.ended
		if err != nil {
			st.failedAt = time.Now()
		}
	}
	if err != nil {
		return
	}
	st := r.stateLocked(ra.info.RangeID)
	if len(ra.action.Changes) == 0 {
		return
	}
	st.changedAt = time.Now()
	// A change of more than one voter goes through a joint configuration:
	// entering it is one generation, leaving it the next.
	if ra.action.Kind == Promote && len(ra.action.Changes) > 1 {
		st.jointGen = ra.info.Descriptor.GetGeneration() + 2
		st.jointUntil = time.Now().Add(r.cfg.ActionTimeout)
	}
}

// forget drops what is remembered of ranges that are idle and no longer
// need it, so the map does not grow with ranges this node stopped
// leading. A range whose action ended after epoch is kept: the current
// pass must still skip it.
func (r *Rebalancer) forget(infos []rangegroup.RangeInfo, epoch uint64) {
	gens := make(map[uint64]uint64, len(infos))
	for _, info := range infos {
		gens[info.RangeID] = info.Descriptor.GetGeneration()
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, st := range r.ranges {
		gen, known := gens[id]
		joint := st.jointGen != 0 && known && gen < st.jointGen && now.Before(st.jointUntil)
		recent := now.Sub(st.changedAt) < r.cfg.Interval || now.Sub(st.failedAt) < r.cfg.Interval
		if !st.busy && !joint && !recent && st.endedAt <= epoch {
			delete(r.ranges, id)
		}
	}
}
