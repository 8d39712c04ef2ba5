package concord

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/router"
)

// The sentinels are the lower layers' values, so errors.Is works whichever
// layer produced an error.
func TestSentinelsAreTheLowerLayers(t *testing.T) {
	for _, c := range []struct{ ours, theirs error }{
		{ErrNotFound, kv.ErrNotFound},
		{ErrConditionFailed, kv.ErrConditionFailed},
		{ErrInvalidKey, kv.ErrInvalidKey},
		{ErrValueTooLarge, kv.ErrValueTooLarge},
		{ErrBatchTooLarge, kv.ErrBatchTooLarge},
		{ErrInvalidArgument, kv.ErrInvalidArgument},
		{ErrTimeout, rangegroup.ErrTimeout},
		{ErrUnavailable, rangegroup.ErrUnavailable},
		{ErrClosed, rangegroup.ErrStopped},
	} {
		if c.ours != c.theirs {
			t.Errorf("%v is not the lower layer's %v", c.ours, c.theirs)
		}
	}
	if err := callError("txn", fmt.Errorf("router: txn: %w", router.ErrCrossRange)); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("router.ErrCrossRange does not wrap ErrInvalidArgument")
	}
}

// Each wire code comes back as its sentinel.
func TestCodeErrors(t *testing.T) {
	for code, want := range map[kvpb.ErrorCode]error{
		kvpb.ErrorCode_NOT_FOUND:        ErrNotFound,
		kvpb.ErrorCode_CONDITION_FAILED: ErrConditionFailed,
		kvpb.ErrorCode_INVALID_KEY:      ErrInvalidKey,
		kvpb.ErrorCode_VALUE_TOO_LARGE:  ErrValueTooLarge,
		kvpb.ErrorCode_BATCH_TOO_LARGE:  ErrBatchTooLarge,
		kvpb.ErrorCode_INVALID_ARGUMENT: ErrInvalidArgument,
		kvpb.ErrorCode_RANGE_MISMATCH:   ErrUnavailable,
	} {
		err := outcomeError("op", code, "detail")
		if !errors.Is(err, want) {
			t.Errorf("%v: %v, want %v", code, err, want)
		}
		if err.Error() == "" || !errors.Is(codeError(code, ""), want) {
			t.Errorf("%v without a message: %v", code, codeError(code, ""))
		}
	}
	if err := outcomeError("op", kvpb.ErrorCode_OK, ""); err != nil {
		t.Errorf("OK = %v", err)
	}
	internal := outcomeError("op", kvpb.ErrorCode_INTERNAL, "boom")
	for _, s := range []error{ErrNotFound, ErrInvalidArgument, ErrTimeout, ErrUnavailable} {
		if errors.Is(internal, s) {
			t.Errorf("INTERNAL wraps %v", s)
		}
	}
}

// Errors of the router's retry loop reach callers in this API's terms,
// with the original chain kept.
func TestCallErrors(t *testing.T) {
	notLeader := &rangegroup.NotLeaderError{RangeID: 3, Leader: "n2"}
	cases := []struct {
		in   error
		want []error
	}{
		{fmt.Errorf("wait: %w", context.DeadlineExceeded), []error{ErrTimeout, context.DeadlineExceeded}},
		{fmt.Errorf("range 1: %w: %w", rangegroup.ErrTimeout, context.DeadlineExceeded), []error{ErrTimeout, context.DeadlineExceeded}},
		{context.Canceled, []error{context.Canceled}},
		{notLeader, []error{ErrUnavailable, rangegroup.ErrNotLeader}},
		{fmt.Errorf("range 9: %w", rangegroup.ErrRangeNotFound), []error{ErrUnavailable, rangegroup.ErrRangeNotFound}},
		{fmt.Errorf("range 4: %w", kv.ErrRangeMismatch), []error{ErrUnavailable, kv.ErrRangeMismatch}},
		{rangegroup.ErrStopped, []error{ErrClosed}},
		{fmt.Errorf("no quorum: %w", rangegroup.ErrUnavailable), []error{ErrUnavailable}},
		{kv.ErrInvalidKey, []error{ErrInvalidKey}},
	}
	for _, c := range cases {
		err := callError("get", c.in)
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("callError(%v) = %v, want it to wrap %v", c.in, err, w)
			}
		}
		if errors.Is(c.in, context.Canceled) && errors.Is(err, ErrTimeout) {
			t.Errorf("a canceled call reports a timeout: %v", err)
		}
	}
	if callError("get", nil) != nil {
		t.Errorf("callError(nil) != nil")
	}
	var nl *rangegroup.NotLeaderError
	if !errors.As(callError("put", notLeader), &nl) || nl.Leader != "n2" {
		t.Errorf("the lower layer's typed error is lost")
	}
}

// A bulk write that failed on some ranges reports, per item, the failure
// for the items of those ranges and the outcome for the others.
func TestBulkOutcome(t *testing.T) {
	resp := &kvpb.Response{Results: []*kvpb.Result{
		{},
		{Code: kvpb.ErrorCode_INTERNAL, Message: "range 2 timed out"},
		{Code: kvpb.ErrorCode_NOT_FOUND, Message: "key \"c\" not found"},
		{Code: kvpb.ErrorCode_INTERNAL, Message: "range 2 timed out"},
	}}
	failure := fmt.Errorf("range 2: %w", rangegroup.ErrTimeout)
	errs, err := bulkOutcome("delete_many", 4, resp, callError("delete_many", &router.BulkError{Failed: []int{1, 3}, Err: failure}))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("call-level error = %v, want ErrTimeout", err)
	}
	if len(errs) != 4 || errs[0] != nil || !errors.Is(errs[1], ErrTimeout) || !errors.Is(errs[2], ErrNotFound) || !errors.Is(errs[3], ErrTimeout) {
		t.Fatalf("per-item errors = %v, want [nil, ErrTimeout, ErrNotFound, ErrTimeout]", errs)
	}

	// Without a partial response, the per-item errors are unknown.
	errs, err = bulkOutcome("put_many", 2, nil, callError("put_many", rangegroup.ErrUnavailable))
	if errs != nil || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("failed call = %v, %v", errs, err)
	}
	// A response that does not match the request is an error, not a panic.
	if _, err := bulkOutcome("put_many", 3, resp, nil); err == nil {
		t.Fatalf("4 results for 3 items accepted")
	}
	// An aborted part leaves no per-item answer that can be trusted.
	aborted := &kvpb.Response{Code: kvpb.ErrorCode_INVALID_ARGUMENT, Message: "item 1: ttl overflows", Results: make([]*kvpb.Result, 4)}
	errs, err = bulkOutcome("put_many", 4, aborted, nil)
	if errs != nil || !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("aborted part = %v, %v; want only a call-level ErrInvalidArgument", errs, err)
	}
	errs, err = bulkOutcome("put_many", 4, aborted, callError("put_many", &router.BulkError{Failed: []int{0}, Err: failure}))
	if errs != nil || !errors.Is(err, ErrInvalidArgument) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("aborted part and failed part = %v, %v; want both in the call-level error", errs, err)
	}
	errs, err = bulkOutcome("put_many", 4, &kvpb.Response{Results: make([]*kvpb.Result, 4)}, nil)
	if err != nil || len(errs) != 4 || errors.Join(errs...) != nil {
		t.Fatalf("all OK = %v, %v", errs, err)
	}
}
