package concord

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	kvapi "github.com/concord-kv/concord/api/kvpb"
)

// The gRPC face of the error vocabulary (kv_codes.go). A failed call's
// status code is grpcCode(CodeOf(err)), and its message is the Code, ": "
// and the error's text, so that a client recovers the exact sentinel with
// Code.Err whatever the status code (several Codes share one). Per-item
// outcomes travel as kvpb.Error{code, message}. Sizes over the limits are
// InvalidArgument, not ResourceExhausted: the latter reads as "retry
// later" to gRPC retry policies, and retrying an oversized value cannot
// help.

// grpcCode maps a Code onto its gRPC status code.
func grpcCode(c Code) codes.Code {
	switch c {
	case CodeOK:
		return codes.OK
	case CodeNotFound:
		return codes.NotFound
	case CodeConditionFailed:
		return codes.FailedPrecondition
	case CodeInvalidKey, CodeInvalidArgument, CodeValueTooLarge, CodeBatchTooLarge:
		return codes.InvalidArgument
	case CodeTimeout:
		return codes.DeadlineExceeded
	case CodeUnavailable, CodeClosed:
		return codes.Unavailable
	case CodeCompacted:
		return codes.OutOfRange
	}
	return codes.Internal
}

// grpcError is the gRPC status error of a failed call.
func grpcError(err error) error {
	c := CodeOf(err)
	if c == CodeInternal && errors.Is(err, context.Canceled) {
		// The caller gave up; it will not read the answer.
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(grpcCode(c), string(c)+": "+err.Error())
}

// errorPB is the wire form of a per-item outcome: code "ok" for nil.
func errorPB(err error) *kvapi.Error {
	if err == nil {
		return &kvapi.Error{Code: string(CodeOK)}
	}
	return &kvapi.Error{Code: string(CodeOf(err)), Message: err.Error()}
}

// wireError reports a request that does not decode into a call: an
// unknown enum value, a malformed duration, a transaction op with nothing
// set.
func wireError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}
