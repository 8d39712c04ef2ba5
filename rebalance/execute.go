package rebalance

import (
	"context"
	"fmt"
)

// execute runs one planned action under the action timeout. Failures are
// expected (leadership moved, a proposal was dropped, a peer is slow):
// they are logged at debug and the next pass plans again from fresh state.
func (r *Rebalancer) execute(ctx context.Context, ra rangeAction) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ActionTimeout)
	defer cancel()
	a, id := ra.action, ra.info.RangeID
	var err error
	switch a.Kind {
	case Split:
		var newID uint64
		newID, err = r.cfg.Store.Split(ctx, id, a.At)
		if err == nil {
			r.cfg.Logger.Info("range split", "range", id, "at", a.At, "new_range", newID)
		}
	case AddLearner, Promote, RemoveReplica:
		err = r.cfg.Store.ChangeReplicas(ctx, id, a.Changes)
		if err == nil {
			r.cfg.Logger.Info("replicas changed", "range", id, "action", a.String())
		}
	case TransferLeadership:
		err = r.cfg.Store.TransferLeadership(ctx, id, a.Node)
		if err == nil {
			r.cfg.Logger.Info("leadership transferred", "range", id, "to", a.Node)
		}
	case Merge:
		err = r.cfg.Store.Merge(ctx, id, a.With)
		if err == nil {
			r.cfg.Logger.Info("ranges merged", "range", id, "absorbed", a.With)
		}
	case AbortMerge:
		err = r.cfg.Store.AbortMerge(ctx, a.With, id)
		if err == nil {
			r.cfg.Logger.Info("merge undone", "range", id, "lhs", a.With)
		}
	default:
		err = fmt.Errorf("unknown action kind %d", a.Kind)
	}
	result := "ok"
	if err != nil {
		result = "error"
		err = fmt.Errorf("rebalance: range %d: %s: %w", id, a, err)
		r.cfg.Logger.Debug("rebalance action failed", "range", id, "err", err)
	}
	r.metrics.actions.WithLabelValues(a.Kind.String(), result).Inc()
	return err
}
