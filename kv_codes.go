package concord

import (
	"context"
	"errors"
)

// Code names an error of the key-value API in a form that survives a trip
// over the wire: the gRPC and HTTP surfaces carry it (as the "code" of an
// HTTP error envelope, and in a gRPC status's message prefix), and a remote
// client turns it back into the sentinel with Code.Err. Every sentinel has
// one Code; each surface maps the Codes onto its own status codes, so the
// vocabulary is defined once, here.
type Code string

// The codes, one per sentinel error.
const (
	CodeOK              Code = "ok"
	CodeNotFound        Code = "not_found"
	CodeConditionFailed Code = "condition_failed"
	CodeInvalidKey      Code = "invalid_key"
	CodeValueTooLarge   Code = "value_too_large"
	CodeBatchTooLarge   Code = "batch_too_large"
	CodeInvalidArgument Code = "invalid_argument"
	CodeTimeout         Code = "timeout"
	CodeUnavailable     Code = "unavailable"
	CodeClosed          Code = "closed"
	CodeCompacted       Code = "compacted"
	// CodeInternal is any error that wraps none of the sentinels: a bug or
	// an environment failure (a disk error), never bad input.
	CodeInternal Code = "internal"
)

var codeSentinels = []struct {
	code Code
	err  error
}{
	// Order matters where an error wraps two sentinels: vocabulary wraps
	// ErrTimeout or ErrUnavailable around lower-layer causes, and the
	// outer meaning is the one the caller acts on.
	{CodeTimeout, ErrTimeout},
	{CodeUnavailable, ErrUnavailable},
	{CodeClosed, ErrClosed},
	{CodeNotFound, ErrNotFound},
	{CodeConditionFailed, ErrConditionFailed},
	{CodeInvalidKey, ErrInvalidKey},
	{CodeValueTooLarge, ErrValueTooLarge},
	{CodeBatchTooLarge, ErrBatchTooLarge},
	{CodeInvalidArgument, ErrInvalidArgument},
	{CodeCompacted, ErrCompacted},
}

// CodeOf returns the code of err: CodeOK for nil, the code of the sentinel
// err wraps, CodeTimeout for an expired context deadline, and CodeInternal
// for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	for _, s := range codeSentinels {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return CodeTimeout
	}
	return CodeInternal
}

// Err returns the sentinel error of c: nil for CodeOK, ErrInternal for
// CodeInternal and for codes this version does not know, so that a
// failure is never mistaken for success.
func (c Code) Err() error {
	if c == CodeOK {
		return nil
	}
	for _, s := range codeSentinels {
		if s.code == c {
			return s.err
		}
	}
	return ErrInternal
}

// ErrInternal is the error of CodeInternal when it comes back over the
// wire: the serving node failed in a way the vocabulary has no word for.
var ErrInternal = errors.New("concord: internal error")
