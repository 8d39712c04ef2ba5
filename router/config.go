package router

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/transport"
)

// Config configures a Router.
type Config struct {
	// Self is this node's name, as it appears in range descriptors.
	// Required.
	Self string
	// Store holds this node's replicas; requests for them are served
	// directly, without an RPC. Nil means a node without replicas, which
	// forwards everything.
	Store *rangegroup.Store
	// Position maps a key to its ring position: the ring's hash of
	// kv.HashTag(key), masked. It must be the function the state machine
	// uses. Required.
	Position func(key []byte) uint64
	// Owner is the ring's answer for a position the cache does not cover:
	// the node that owns it (ring.LookupID -> Server.Name). Required.
	Owner func(ctx context.Context, pos uint64) (node string, err error)
	// Resolve maps a node name to its gRPC address. Required.
	Resolve func(node string) (addr string, ok bool)
	// Pool holds the connections to other nodes. Required.
	Pool *transport.Pool
	// Limits are the input limits of the state machine, checked before a
	// bulk request is split so that bad input changes nothing anywhere.
	// The zero value means kv.DefaultLimits().
	Limits kv.Limits
	// BackoffMin and BackoffMax bound the jittered exponential backoff
	// between retries (defaults 10 ms and 500 ms).
	BackoffMin, BackoffMax time.Duration
	// ReadAttemptTimeout bounds one attempt of a read, so that a replica
	// that stopped answering costs only part of the caller's deadline
	// before another is tried (default 2 s; an attempt never gets more
	// than half of the time left, unless that is under 50 ms). Writes
	// are not bounded per attempt: a write that timed out after it was
	// sent cannot be retried anyway.
	ReadAttemptTimeout time.Duration
	// Logger receives the router's logs (default: discard).
	Logger *slog.Logger
	// Registerer, if set, registers the router's Prometheus metrics.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Self == "":
		return c, errors.New("router: Config.Self is required")
	case c.Position == nil:
		return c, errors.New("router: Config.Position is required")
	case c.Owner == nil:
		return c, errors.New("router: Config.Owner is required")
	case c.Resolve == nil:
		return c, errors.New("router: Config.Resolve is required")
	case c.Pool == nil:
		return c, errors.New("router: Config.Pool is required")
	}
	if c.Limits == (kv.Limits{}) {
		c.Limits = kv.DefaultLimits()
	}
	if err := c.Limits.Check(); err != nil {
		return c, err
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 10 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 500 * time.Millisecond
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	if c.ReadAttemptTimeout <= 0 {
		c.ReadAttemptTimeout = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
