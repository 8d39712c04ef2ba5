package rebalance

import "errors"

// ErrInvalidConfig: New was given a Config it cannot run with.
var ErrInvalidConfig = errors.New("rebalance: invalid config")
