package concord

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// Every sentinel survives the trip through its code, wrapped or not, and
// an error the vocabulary has no word for is internal, never success.
func TestCodesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range codeSentinels {
		wrapped := fmt.Errorf("concord: put: %w", s.err)
		if got := CodeOf(wrapped); got != s.code {
			t.Errorf("CodeOf(%v) = %q, want %q", wrapped, got, s.code)
		}
		if got := s.code.Err(); !errors.Is(got, s.err) {
			t.Errorf("%q.Err() = %v, want %v", s.code, got, s.err)
		}
	}
	if CodeOf(nil) != CodeOK || CodeOK.Err() != nil {
		t.Error("nil and CodeOK do not correspond")
	}
	// The outer meaning wins for an error that wraps two sentinels.
	if got := CodeOf(fmt.Errorf("%w: %w", ErrUnavailable, ErrNotFound)); got != CodeUnavailable {
		t.Errorf("unavailable wrapping not found = %q", got)
	}
	if got := CodeOf(fmt.Errorf("wait: %w", context.DeadlineExceeded)); got != CodeTimeout {
		t.Errorf("deadline exceeded = %q", got)
	}
	if CodeOf(errors.New("disk on fire")) != CodeInternal || !errors.Is(Code("from_the_future").Err(), ErrInternal) {
		t.Error("unknown errors and codes are not internal")
	}
}
