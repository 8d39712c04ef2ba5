package rebalance

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/rangegroup"
)

// Defaults of the Config fields.
const (
	DefaultReplicas               = 3
	DefaultGrace                  = 30 * time.Second
	DefaultInterval               = time.Second
	DefaultMaxConcurrentSnapshots = 2
	DefaultActionTimeout          = 10 * time.Second
	DefaultCatchUpLag             = 50
)

// Store is what the rebalancer needs of the node's multi-raft engine;
// *rangegroup.Store satisfies it.
type Store interface {
	// Ranges returns this node's view of every range it has a replica of.
	Ranges() []rangegroup.RangeInfo
	// Split divides a range at position at; it returns the new range's id.
	Split(ctx context.Context, rangeID, at uint64) (uint64, error)
	// ChangeReplicas applies changes as one configuration change.
	ChangeReplicas(ctx context.Context, rangeID uint64, changes []rangegroup.ReplicaChange) error
	// TransferLeadership hands the range's leadership to node's replica.
	TransferLeadership(ctx context.Context, rangeID uint64, node string) error
	// Merge makes range lhs absorb its right neighbour rhs.
	Merge(ctx context.Context, lhs, rhs uint64) error
	// AbortMerge undoes a merge of rhs into lhs that has not happened.
	AbortMerge(ctx context.Context, lhs, rhs uint64) error
}

var _ Store = (*rangegroup.Store)(nil)

// Config configures a Rebalancer.
type Config struct {
	// Self is this node's name, as it appears in range descriptors.
	// Required.
	Self string
	// Store executes the moves. Required.
	Store Store
	// View says which nodes exist and which are alive. Required.
	View View
	// Replicas is the replication factor (default 3); ranges have fewer
	// replicas while the ring has fewer present members.
	Replicas int
	// Grace is how long a failed member still counts as present (default
	// 30 s), so that a quick restart causes no re-replication. Negative
	// means no grace: failed members are replaced at once.
	Grace time.Duration
	// Interval is the period of the scan that runs even without Trigger
	// (default 1 s). It also paces retries of failed actions.
	Interval time.Duration
	// MaxConcurrentSnapshots caps, node-wide, the learners this node's
	// leaders are catching up at once (default 2).
	MaxConcurrentSnapshots int
	// ActionTimeout bounds one action (default 10 s).
	ActionTimeout time.Duration
	// CatchUpLag is how far behind the commit index a learner may be and
	// still be promoted (default 50 entries).
	CatchUpLag uint64
	// Now is the clock membership times are judged by (default time.Now).
	Now func() time.Time
	// Logger receives the rebalancer's logs (default: discard).
	Logger *slog.Logger
	// Registerer, if set, registers the rebalancer's Prometheus metrics.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Self == "":
		return c, fmt.Errorf("Config.Self is required: %w", ErrInvalidConfig)
	case c.Store == nil:
		return c, fmt.Errorf("Config.Store is required: %w", ErrInvalidConfig)
	case c.View == nil:
		return c, fmt.Errorf("Config.View is required: %w", ErrInvalidConfig)
	}
	if c.Replicas <= 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.MaxConcurrentSnapshots <= 0 {
		c.MaxConcurrentSnapshots = DefaultMaxConcurrentSnapshots
	}
	if c.ActionTimeout <= 0 {
		c.ActionTimeout = DefaultActionTimeout
	}
	if c.CatchUpLag == 0 {
		c.CatchUpLag = DefaultCatchUpLag
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// planConfig is the part of c that Plan sees, judged at now.
func (c Config) planConfig(now time.Time) PlanConfig {
	return PlanConfig{
		Self:         c.Self,
		Replicas:     c.Replicas,
		Grace:        c.Grace,
		Now:          now,
		CatchUpLag:   c.CatchUpLag,
		MaxSnapshots: c.MaxConcurrentSnapshots,
	}
}
