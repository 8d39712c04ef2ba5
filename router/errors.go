package router

import (
	"context"
	"errors"
	"fmt"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
)

// ErrCrossRange: a command that must be atomic (a transaction, or a read
// ordered through the log) names keys of more than one range. Keys that
// share a hash tag ("{user:1}:a", "{user:1}:b") always share a range. It
// wraps kv.ErrInvalidArgument, since retrying cannot help.
var ErrCrossRange = fmt.Errorf("keys span more than one range (give them a common {hash tag}): %w", kv.ErrInvalidArgument)

// BulkError is returned with a partial Response by a bulk write split
// across ranges when the parts of some ranges were applied and others
// failed: Failed lists the indexes (in request order) of the items whose
// part failed or has an unknown outcome; their results in the Response
// carry code INTERNAL and the failure's text. Unwrap gives the failures,
// so errors.Is(err, rangegroup.ErrTimeout) tells an unknown outcome.
type BulkError struct {
	Failed []int
	Err    error
}

// Error summarizes the failures.
func (e *BulkError) Error() string {
	return fmt.Sprintf("%d of the items failed: %v", len(e.Failed), e.Err)
}

// Unwrap returns the failures.
func (e *BulkError) Unwrap() error { return e.Err }

// unknownOutcome marks a write that was proposed, or may have been, and
// whose fate is unknown: it may still be applied, so it must not be sent
// again. Callers see rangegroup.ErrTimeout.
type unknownOutcome struct{ cause error }

func (e *unknownOutcome) Error() string {
	return fmt.Sprintf("%v: outcome unknown: %v", rangegroup.ErrTimeout, e.cause)
}

// Unwrap yields ErrTimeout, and the context's error when the cause is the
// caller's context ending, but not the cause's other sentinels: a caller
// must not mistake "replica removed while the write was pending" for a
// retryable "range not found".
func (e *unknownOutcome) Unwrap() []error {
	errs := []error{rangegroup.ErrTimeout}
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(e.cause, ctxErr) {
			errs = append(errs, ctxErr)
		}
	}
	return errs
}

// sendError is a failure to get an answer from a node: it could not be
// resolved or reached, or the call failed in transit. sent says whether
// the request may have reached the node.
type sendError struct {
	node string
	sent bool
	err  error
}

func (e *sendError) Error() string { return fmt.Sprintf("node %s: %v", e.node, e.err) }
func (e *sendError) Unwrap() error { return e.err }

// remoteError is an error a node answered with, rebuilt so that errors.Is
// and errors.As work as they would on that node: it has the remote text
// and unwraps to the same sentinels and typed errors.
type remoteError struct {
	msg  string
	errs []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.errs }
