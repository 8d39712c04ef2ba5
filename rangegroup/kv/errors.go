package kv

import (
	"errors"
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// The sentinel errors of the data path. Every error this package returns
// for bad input or a negative outcome wraps exactly one of them, so callers
// branch with errors.Is and CodeOf maps them onto the wire.
var (
	// ErrNotFound: the key does not exist or has expired.
	ErrNotFound = errors.New("kv: not found")
	// ErrConditionFailed: a condition of a conditional write did not hold.
	ErrConditionFailed = errors.New("kv: condition failed")
	// ErrInvalidKey: a key is empty or longer than the key size limit.
	ErrInvalidKey = errors.New("kv: invalid key")
	// ErrValueTooLarge: a value exceeds the value size limit.
	ErrValueTooLarge = errors.New("kv: value too large")
	// ErrBatchTooLarge: a bulk command or transaction has too many items.
	ErrBatchTooLarge = errors.New("kv: batch too large")
	// ErrInvalidArgument: a malformed command or configuration.
	ErrInvalidArgument = errors.New("kv: invalid argument")
	// ErrRangeMismatch: a key lies outside the range asked to serve it.
	ErrRangeMismatch = errors.New("kv: range mismatch")
	// ErrCorruptRecord: a stored record cannot be decoded. It means the
	// engine holds bytes this package did not write; it is returned as a
	// failure, never as a result.
	ErrCorruptRecord = errors.New("kv: corrupt record")
)

// codes pairs each sentinel with its wire code. A slice, not a map, so
// CodeOf checks in a fixed order.
var codes = []struct {
	err  error
	code kvpb.ErrorCode
}{
	{ErrNotFound, kvpb.ErrorCode_NOT_FOUND},
	{ErrConditionFailed, kvpb.ErrorCode_CONDITION_FAILED},
	{ErrInvalidKey, kvpb.ErrorCode_INVALID_KEY},
	{ErrValueTooLarge, kvpb.ErrorCode_VALUE_TOO_LARGE},
	{ErrBatchTooLarge, kvpb.ErrorCode_BATCH_TOO_LARGE},
	{ErrInvalidArgument, kvpb.ErrorCode_INVALID_ARGUMENT},
	{ErrRangeMismatch, kvpb.ErrorCode_RANGE_MISMATCH},
}

// CodeOf maps an error onto its wire code: OK for nil, the sentinel's code
// for an error wrapping one of the sentinels above, INTERNAL otherwise.
func CodeOf(err error) kvpb.ErrorCode {
	if err == nil {
		return kvpb.ErrorCode_OK
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return kvpb.ErrorCode_INTERNAL
}

// ErrorOf turns a wire code and message back into an error wrapping the
// code's sentinel, so a caller holding a Response can use errors.Is. It
// returns nil for OK; an unknown or INTERNAL code yields an error wrapping
// no sentinel.
func ErrorOf(code kvpb.ErrorCode, msg string) error {
	if code == kvpb.ErrorCode_OK {
		return nil
	}
	for _, c := range codes {
		if c.code == code {
			if msg == "" {
				return c.err
			}
			return &detailError{sentinel: c.err, detail: msg}
		}
	}
	return fmt.Errorf("kv: error code %v: %s", code, msg)
}

// detailError is a sentinel with a detail. It keeps the two apart so that a
// response carries only the detail as its message, and ErrorOf(code,
// message) on the receiving side rebuilds an error with the same text.
type detailError struct {
	sentinel error
	detail   string
}

func (e *detailError) Error() string { return e.sentinel.Error() + ": " + e.detail }
func (e *detailError) Unwrap() error { return e.sentinel }

// invalid builds an error wrapping sentinel with a formatted detail.
func invalid(sentinel error, format string, args ...any) error {
	return &detailError{sentinel: sentinel, detail: fmt.Sprintf(format, args...)}
}

// detailOf is the message a response carries for err: the detail of a
// detailError, else the whole text.
func detailOf(err error) string {
	var d *detailError
	if errors.As(err, &d) {
		return d.detail
	}
	return err.Error()
}
