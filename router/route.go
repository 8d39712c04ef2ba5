package router

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
)

// errResplit: a bulk request's part holds keys of more than one range;
// the caller splits it again with what the cache has learned.
var errResplit = errors.New("part spans ranges")

// route sends o until a node serves it, following what failed attempts
// teach (leader hints, newer descriptors) and backing off between attempts
// that taught nothing, all within ctx. A write is retried only after an
// answer proving it was not applied.
func (r *Router) route(ctx context.Context, o *op) (*reply, error) {
	b := NewBackoff(r.cfg.BackoffMin, r.cfg.BackoffMax)
	tried := make(map[string]bool)
	hinted := false
	streak := 0 // retries in a row without a backoff
	var last error
	for n := 1; ; n++ {
		if ctx.Err() != nil {
			return nil, giveUp(ctx, o, n-1, last)
		}
		rep, now, reason, err := r.attempt(ctx, o, tried, &hinted)
		switch {
		case err == nil:
			return rep, nil
		case reason == "":
			return nil, err
		}
		last = err
		r.metrics.retries.WithLabelValues(reason).Inc()
		r.cfg.Logger.Debug("retry", "op", o.name, "position", o.pos, "attempt", n, "reason", reason, "err", err)
		if now && streak < maxStreak {
			streak++
			continue
		}
		streak = 0
		if b.Wait(ctx) != nil {
			return nil, giveUp(ctx, o, n, last)
		}
	}
}

// attempt picks a target and sends o there once. On failure it returns
// the retry reason (empty when the error is final) and whether to retry
// at once.
func (r *Router) attempt(ctx context.Context, o *op, tried map[string]bool, hinted *bool) (_ *reply, now bool, reason string, _ error) {
	t, err := r.pick(ctx, o, tried)
	if err != nil {
		return nil, false, retryRing, err
	}
	rep, err := r.send(ctx, t, o)
	if err != nil {
		now, reason, err = r.judge(o, t, rep, err, tried, hinted)
		return nil, now, reason, err
	}
	r.learn(rep)
	if rep.desc == nil {
		rep.desc = t.desc
	}
	return rep, false, "", nil
}

// maxStreak bounds the retries made in a row without a backoff, so that
// answers that keep looking like progress (views that disagree, every
// replica of an eventual read failing) cannot spin.
const maxStreak = 4

// judge decides what a failed attempt means. It returns an empty reason
// when the error is final (and the error to return), otherwise the retry
// reason and whether to retry at once rather than after a backoff. It
// updates the cache and the set of nodes tried.
func (r *Router) judge(o *op, t target, rep *reply, err error, tried map[string]bool, hinted *bool) (now bool, reason string, _ error) {
	var (
		nl *rangegroup.NotLeaderError
		rm *rangegroup.RangeMismatchError
		uo *unknownOutcome
		se *sendError
	)
	// An eventual read may go to any replica: fall back to another at
	// once, until every replica was tried.
	eventual := o.read != nil && o.level == rangegroup.Eventual
	switch {
	case errors.As(err, &uo):
		// The write is not retried, but the next request should not
		// count on this node leading.
		r.cache.dropLeader(t.rangeID, t.node)
		return false, "", err
	case errors.As(err, &se):
		if se.sent && o.write != nil {
			r.cache.dropLeader(t.rangeID, t.node)
			return false, "", &unknownOutcome{cause: err}
		}
		if status.Code(se.err) == codes.ResourceExhausted {
			// A message over a size limit is over it everywhere.
			return false, "", err
		}
		tried[t.node] = true
		r.cache.dropLeader(t.rangeID, t.node)
		reason = retryUnreachable
		if status.Code(se.err) == codes.DeadlineExceeded {
			reason = retryAttemptTimeout
		}
		return eventual, reason, err
	case errors.As(err, &nl):
		tried[t.node] = true
		r.cache.dropLeader(t.rangeID, t.node)
		r.learn(rep)
		if nl.Leader != "" && nl.Leader != t.node && !*hinted {
			// The first redirect is followed at once; a leader that
			// moves again, or hints that go round in circles, back off.
			*hinted = true
			delete(tried, nl.Leader)
			return true, retryNotLeader, err
		}
		return eventual, retryNotLeader, err
	case errors.Is(err, kv.ErrRangeMismatch):
		errors.As(err, &rm)
		changed := rm != nil && r.cache.update(rm.Descriptor, "")
		if rm != nil && arcOf(rm.Descriptor).Contains(o.pos) && !containsAll(rm, o.positions) {
			// The range that holds the first key is current and does not
			// hold them all.
			if o.part {
				return false, "", errResplit
			}
			d := rm.Descriptor
			return false, "", fmt.Errorf("range %d (%d, %d] holds the first key but not all of them: %w", d.GetRangeId(), d.GetStart(), d.GetEnd(), ErrCrossRange)
		}
		if !changed {
			// The answer taught nothing new (the node lags behind the
			// cache): forget the range rather than ask it again.
			r.cache.drop(t.rangeID)
		}
		return changed, retryMismatch, err
	case errors.Is(err, rangegroup.ErrRangeNotFound):
		tried[t.node] = true
		if t.rangeID != 0 {
			// The cache said the node holds the range and it does not:
			// the cached descriptor is stale.
			r.cache.drop(t.rangeID)
		}
		r.learn(rep)
		return eventual, retryNotFound, err
	case errors.Is(err, rangegroup.ErrUnavailable), errors.Is(err, rangegroup.ErrStopped):
		tried[t.node] = true
		r.learn(rep)
		return eventual, retryUnavailable, err
	case o.read != nil && (errors.Is(err, rangegroup.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)):
		// The attempt's own deadline passed (the caller's is checked
		// before the next attempt): another replica may answer.
		tried[t.node] = true
		r.cache.dropLeader(t.rangeID, t.node)
		return eventual, retryAttemptTimeout, err
	}
	return false, "", err
}

// containsAll reports whether the mismatch's descriptor holds every
// position.
func containsAll(rm *rangegroup.RangeMismatchError, positions []uint64) bool {
	arc := arcOf(rm.Descriptor)
	for _, p := range positions {
		if !arc.Contains(p) {
			return false
		}
	}
	return true
}

// learn records what a node said about a range: its descriptor (cached if
// not older than what the cache holds) and its leader.
func (r *Router) learn(rep *reply) {
	if rep == nil || rep.rangeID == 0 {
		return
	}
	if rep.desc != nil && r.cache.update(rep.desc, rep.leader) {
		return
	}
	r.cache.setLeader(rep.rangeID, rep.leader)
}

// giveUp is the error of an op that ctx ended before any attempt
// succeeded, where no attempt left an unknown outcome: a write was not
// applied.
func giveUp(ctx context.Context, o *op, attempts int, last error) error {
	cause := ctx.Err()
	if !errors.Is(cause, context.DeadlineExceeded) {
		return fmt.Errorf("gave up after %d attempts (last: %v): %w", attempts, last, cause)
	}
	if o.write != nil {
		return fmt.Errorf("not applied: no replica accepted it before the deadline (%d attempts, last: %v): %w: %w",
			attempts, last, rangegroup.ErrUnavailable, cause)
	}
	return fmt.Errorf("no answer before the deadline (%d attempts, last: %v): %w: %w",
		attempts, last, rangegroup.ErrTimeout, cause)
}
