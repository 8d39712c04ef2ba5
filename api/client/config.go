package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Client. Seeds is required.
type Config struct {
	// Seeds are addresses (host:port) of nodes of the cluster: the client
	// reads the routing table from the first that answers, and falls back
	// to them when no better node is known.
	Seeds []string
	// HashFunc and HashBits must be the cluster's (concord.Config); the
	// defaults are the nodes' defaults (xxhash, 64 bits).
	HashFunc func([]byte) uint64
	HashBits int
	// Timeout bounds a call whose context has no deadline (default 10 s).
	Timeout time.Duration
	// TLS, if set, secures the connections to the nodes (default
	// plaintext).
	TLS *tls.Config
	// Logger receives the client's logs (default: discard).
	Logger *slog.Logger
}

// ErrInvalidConfig: New was given a configuration it cannot run with.
var ErrInvalidConfig = errors.New("concord client: invalid configuration")

const defaultTimeout = 10 * time.Second

func (c Config) withDefaults() (Config, error) {
	if len(c.Seeds) == 0 {
		return c, fmt.Errorf("%w: no seeds", ErrInvalidConfig)
	}
	if c.HashBits < 0 || c.HashBits > 64 {
		return c, fmt.Errorf("%w: HashBits must be 1..64", ErrInvalidConfig)
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
