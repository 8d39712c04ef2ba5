package kv

import (
	"errors"
	"time"
)

// Default and hard limits on input (DESIGN.md "Errors and limits").
const (
	// DefaultMaxKeySize is the default largest key, in bytes.
	DefaultMaxKeySize = 4096
	// DefaultMaxValueSize is the default largest value, in bytes.
	DefaultMaxValueSize = 1 << 20
	// DefaultMaxBatchItems is the default largest number of items in a bulk
	// command, and of compares or ops per branch in a transaction.
	DefaultMaxBatchItems = 500
	// MaxValueSizeCeiling is the largest value size a configuration may
	// allow: values travel whole in Raft entries and snapshots, and larger
	// ones would stall a range's log.
	MaxValueSizeCeiling = 16 << 20
	// MaxTTL is the longest time to live a command may ask for. It keeps
	// now + ttl far from int64 overflow for any plausible clock.
	MaxTTL = 100 * 365 * 24 * time.Hour
)

// Limits bounds the input the state machine accepts. Every replica of a
// range must use the same Limits, or they could disagree on whether a
// command is valid.
type Limits struct {
	// MaxKeySize is the largest key in bytes; keys are 1..MaxKeySize bytes.
	MaxKeySize int
	// MaxValueSize is the largest value in bytes, at most
	// MaxValueSizeCeiling. Expected values of conditions and compares obey
	// it too.
	MaxValueSize int
	// MaxBatchItems is the largest number of items in a bulk command or
	// sweep, of keys returned by a scan, and of compares, then-ops and
	// else-ops (each) in a transaction.
	MaxBatchItems int
}

// DefaultLimits returns the default limits: 4096-byte keys, 1 MiB values,
// 500 items per bulk command.
func DefaultLimits() Limits {
	return Limits{
		MaxKeySize:    DefaultMaxKeySize,
		MaxValueSize:  DefaultMaxValueSize,
		MaxBatchItems: DefaultMaxBatchItems,
	}
}

// Check reports whether l is a usable configuration: every limit positive
// and MaxValueSize at most MaxValueSizeCeiling. The error wraps
// ErrInvalidArgument.
func (l Limits) Check() error {
	switch {
	case l.MaxKeySize < 1:
		return invalid(ErrInvalidArgument, "limits: MaxKeySize %d must be positive", l.MaxKeySize)
	case l.MaxValueSize < 1:
		return invalid(ErrInvalidArgument, "limits: MaxValueSize %d must be positive", l.MaxValueSize)
	case l.MaxValueSize > MaxValueSizeCeiling:
		return invalid(ErrInvalidArgument, "limits: MaxValueSize %d exceeds the ceiling of %d bytes",
			l.MaxValueSize, MaxValueSizeCeiling)
	case l.MaxBatchItems < 1:
		return invalid(ErrInvalidArgument, "limits: MaxBatchItems %d must be positive", l.MaxBatchItems)
	}
	return nil
}

func (l Limits) checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return invalid(ErrInvalidKey, "key is empty")
	case len(key) > l.MaxKeySize:
		return invalid(ErrInvalidKey, "key is %d bytes, limit %d", len(key), l.MaxKeySize)
	}
	return nil
}

func (l Limits) checkValue(what string, v []byte) error {
	if len(v) > l.MaxValueSize {
		return invalid(ErrValueTooLarge, "%s is %d bytes, limit %d", what, len(v), l.MaxValueSize)
	}
	return nil
}

// checkCount checks the item count n of a bulk command: 1..MaxBatchItems.
func (l Limits) checkCount(what string, n int) error {
	switch {
	case n == 0:
		return invalid(ErrInvalidArgument, "%s has no items", what)
	case n > l.MaxBatchItems:
		return invalid(ErrBatchTooLarge, "%s has %d items, limit %d", what, n, l.MaxBatchItems)
	}
	return nil
}

// checkTTL checks a requested time to live: 0 (none) up to MaxTTL.
func checkTTL(ttl int64) error {
	switch {
	case ttl < 0:
		return invalid(ErrInvalidArgument, "ttl %d is negative", ttl)
	case ttl > int64(MaxTTL):
		return invalid(ErrInvalidArgument, "ttl %v exceeds the maximum of %v", time.Duration(ttl), MaxTTL)
	}
	return nil
}

// within prefixes err's detail with where in the command it arose (a bulk
// item, a transaction op), keeping its sentinel.
func within(where string, err error) error {
	var d *detailError
	if err == nil || !errors.As(err, &d) {
		return err
	}
	return &detailError{sentinel: d.sentinel, detail: where + ": " + d.detail}
}
