package concord

import (
	"context"
	"errors"
	"fmt"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// The errors of the key-value API. Every error a Node's key-value method
// returns for bad input or a negative outcome wraps exactly one of them, so
// callers branch with errors.Is. They are the very values the lower layers
// use (rangegroup/kv and rangegroup), so errors.Is holds whichever layer
// produced the error, and the gRPC and HTTP surfaces map the same
// vocabulary onto their status codes.
var (
	// ErrNotFound: the key does not exist or has expired.
	ErrNotFound = kv.ErrNotFound
	// ErrConditionFailed: a condition of PutIf or DeleteIf did not hold,
	// and nothing was written.
	ErrConditionFailed = kv.ErrConditionFailed
	// ErrInvalidKey: a key is empty or longer than Limits.MaxKeySize.
	ErrInvalidKey = kv.ErrInvalidKey
	// ErrValueTooLarge: a value (or an expected value of a condition or
	// compare) is longer than Limits.MaxValueSize.
	ErrValueTooLarge = kv.ErrValueTooLarge
	// ErrBatchTooLarge: a bulk call or transaction has more items than
	// Limits.MaxBatchItems.
	ErrBatchTooLarge = kv.ErrBatchTooLarge
	// ErrInvalidArgument: a malformed call: a negative TTL, an option the
	// method does not take, contradictory conditions, an empty batch, a
	// transaction over keys of different hash tags, ...
	ErrInvalidArgument = kv.ErrInvalidArgument
	// ErrTimeout: the deadline (the context's, or Config.RequestTimeout
	// when the context has none) passed after a write was sent and before
	// its outcome was known: it may or may not be applied, now or later.
	ErrTimeout = rangegroup.ErrTimeout
	// ErrUnavailable: the key's range could not serve the call (no quorum,
	// no leader, a replica move in progress) and retrying within the
	// deadline did not help. A write that fails with it was not applied.
	// When the deadline is what ended the retries, the error also wraps
	// context.DeadlineExceeded.
	ErrUnavailable = rangegroup.ErrUnavailable
	// ErrClosed: the node is closed.
	ErrClosed = rangegroup.ErrStopped
)

// callError turns an error from the router into an error of this API: it
// keeps the original chain (so lower-layer details stay inspectable) and
// makes sure it wraps one of the sentinels above when the cause is one the
// caller can act on. op names the call, for the message.
func callError(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("concord: %s: %w", op, vocabulary(err))
}

// vocabulary makes sure err wraps ErrTimeout, ErrUnavailable or ErrClosed
// when its cause is one of theirs in lower-layer terms, keeping the
// original chain.
func vocabulary(err error) error {
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed):
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, rangegroup.ErrNotLeader), errors.Is(err, rangegroup.ErrRangeNotFound),
		errors.Is(err, kv.ErrRangeMismatch):
		// The router retries these within the deadline; one that escapes
		// means the range could not be reached in time. Range mismatch is
		// internal vocabulary: callers see it as unavailability.
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// codeError turns a wire outcome into an error wrapping its sentinel, nil
// for OK. A RANGE_MISMATCH outcome is internal and reported as
// unavailability, like callError does.
func codeError(code kvpb.ErrorCode, msg string) error {
	err := kv.ErrorOf(code, msg)
	if code == kvpb.ErrorCode_RANGE_MISMATCH {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// outcomeError is codeError with the call named, for an outcome that fails
// the whole call.
func outcomeError(op string, code kvpb.ErrorCode, msg string) error {
	if code == kvpb.ErrorCode_OK {
		return nil
	}
	return fmt.Errorf("concord: %s: %w", op, codeError(code, msg))
}

// inputError reports input rejected before anything was sent.
func inputError(op string, err error) error {
	return fmt.Errorf("concord: %s: %w", op, err)
}
