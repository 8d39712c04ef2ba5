package kv

import (
	"errors"
	"fmt"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

func TestCodeOfAndErrorOfRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
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
	for _, c := range cases {
		if got := CodeOf(c.err); got != c.code {
			t.Errorf("CodeOf(%v) = %v, want %v", c.err, got, c.code)
		}
		wrapped := fmt.Errorf("outer: %w", c.err)
		if got := CodeOf(wrapped); got != c.code {
			t.Errorf("CodeOf(wrapped %v) = %v, want %v", c.err, got, c.code)
		}
		back := ErrorOf(c.code, "detail")
		if !errors.Is(back, c.err) {
			t.Errorf("ErrorOf(%v) = %v, not %v", c.code, back, c.err)
		}
		if back.Error() != c.err.Error()+": detail" {
			t.Errorf("ErrorOf(%v).Error() = %q", c.code, back.Error())
		}
		if bare := ErrorOf(c.code, ""); bare != c.err {
			t.Errorf("ErrorOf(%v, \"\") = %v, want the sentinel itself", c.code, bare)
		}
	}
}

func TestCodeOfEdges(t *testing.T) {
	t.Parallel()
	if got := CodeOf(nil); got != kvpb.ErrorCode_OK {
		t.Fatalf("CodeOf(nil) = %v", got)
	}
	if got := CodeOf(errors.New("disk on fire")); got != kvpb.ErrorCode_INTERNAL {
		t.Fatalf("CodeOf(foreign) = %v", got)
	}
	if got := CodeOf(ErrCorruptRecord); got != kvpb.ErrorCode_INTERNAL {
		t.Fatalf("CodeOf(ErrCorruptRecord) = %v", got)
	}
	if err := ErrorOf(kvpb.ErrorCode_OK, "ignored"); err != nil {
		t.Fatalf("ErrorOf(OK) = %v", err)
	}
	internal := ErrorOf(kvpb.ErrorCode_INTERNAL, "x")
	if internal == nil || CodeOf(internal) != kvpb.ErrorCode_INTERNAL {
		t.Fatalf("ErrorOf(INTERNAL) = %v", internal)
	}
	for _, c := range codes {
		if errors.Is(internal, c.err) {
			t.Fatalf("ErrorOf(INTERNAL) wraps %v", c.err)
		}
	}
}

// A response message is only the detail, so rebuilding the error on the
// client gives the same text the replica had.
func TestResponseMessageRebuildsError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp := f.applyUnchanged(put("", "v"), kvpb.ErrorCode_INVALID_KEY)
	err := ErrorOf(resp.GetCode(), resp.GetMessage())
	if !errors.Is(err, ErrInvalidKey) || err.Error() != "kv: invalid key: key is empty" {
		t.Fatalf("rebuilt error %q", err)
	}
	if verr := DefaultLimits().Validate(put("", "v")); verr.Error() != err.Error() {
		t.Fatalf("Validate says %q, response rebuilds %q", verr, err)
	}
}
