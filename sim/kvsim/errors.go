package kvsim

import (
	"context"
	"errors"
	"strings"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
)

// errorKind names the kind of a failed operation for the report: the
// rangegroup sentinel it wraps, else the key-value error code, else
// "other".
func errorKind(err error) string {
	switch {
	case errors.Is(err, rangegroup.ErrNotLeader):
		return "not-leader"
	case errors.Is(err, rangegroup.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, rangegroup.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, rangegroup.ErrRangeNotFound):
		return "range-not-found"
	case errors.Is(err, rangegroup.ErrStopped):
		return "stopped"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	if code := kv.CodeOf(err); code.String() != "INTERNAL" {
		return strings.ReplaceAll(strings.ToLower(code.String()), "_", "-")
	}
	return "other"
}

// leaderMayHaveMoved reports whether err suggests asking again who leads
// the range.
func leaderMayHaveMoved(err error) bool {
	return errors.Is(err, rangegroup.ErrNotLeader) || errors.Is(err, rangegroup.ErrUnavailable) ||
		errors.Is(err, rangegroup.ErrTimeout)
}
