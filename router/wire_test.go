package router

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/router/routerpb"
)

// TestErrorsKeepTheirIdentityAcrossTheHop encodes what serve can return
// into a Forward reply, decodes it as the caller does, and checks that
// errors.Is and errors.As answer as they would on the serving node.
func TestErrorsKeepTheirIdentityAcrossTheHop(t *testing.T) {
	t.Parallel()
	d := desc(7, 10, 20, 3, "a", "b")
	kvErr := fmt.Errorf("validate: %w", kv.ErrInvalidKey)
	for _, tc := range []struct {
		name    string
		err     error
		is      []error
		unknown bool
	}{
		{"not leader", &rangegroup.NotLeaderError{RangeID: 7, Leader: "b", Descriptor: d}, []error{rangegroup.ErrNotLeader}, false},
		{"range mismatch", mismatch(d, 5), []error{kv.ErrRangeMismatch}, false},
		{"range not found", fmt.Errorf("node x: %w", rangegroup.ErrRangeNotFound), []error{rangegroup.ErrRangeNotFound}, false},
		{"unavailable", fmt.Errorf("propose: %w", rangegroup.ErrUnavailable), []error{rangegroup.ErrUnavailable}, false},
		{"stopped", rangegroup.ErrStopped, []error{rangegroup.ErrStopped}, false},
		{"kv", kvErr, []error{kv.ErrInvalidKey}, false},
		{"canceled", fmt.Errorf("wait: %w", context.Canceled), []error{context.Canceled}, false},
		{"timeout", &unknownOutcome{cause: fmt.Errorf("range 7: %w: %w", rangegroup.ErrTimeout, context.DeadlineExceeded)},
			[]error{rangegroup.ErrTimeout, context.DeadlineExceeded}, true},
		{"removed while pending", &unknownOutcome{cause: fmt.Errorf("replica removed: %w", rangegroup.ErrRangeNotFound)},
			[]error{rangegroup.ErrTimeout}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &reply{rangeID: 7}
			rep.fill(tc.err)
			out := encodeReply(rep, tc.err)
			if out.GetError() == routerpb.ErrorKind_NONE || out.GetOutcomeUnknown() != tc.unknown {
				t.Fatalf("encoded as %v (unknown %v)", out.GetError(), out.GetOutcomeUnknown())
			}
			back, err := decodeReply(out, &op{write: putReq("k", "v")})
			if back == nil || err == nil {
				t.Fatalf("decoded %v, %v", back, err)
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			var uo *unknownOutcome
			if errors.As(err, &uo) != tc.unknown {
				t.Errorf("unknown outcome: %v, want %v", errors.As(err, &uo), tc.unknown)
			}
			if tc.unknown && errors.Is(err, rangegroup.ErrRangeNotFound) {
				t.Errorf("an unknown outcome passes for a retryable %v", err)
			}
			if err.Error() != tc.err.Error() {
				t.Errorf("text %q, want %q", err.Error(), tc.err.Error())
			}
		})
	}
	// Typed errors come back with their fields.
	back, err := decodeReply(encodeReply(&reply{rangeID: 7, leader: "b", desc: d}, &rangegroup.NotLeaderError{RangeID: 7, Leader: "b", Descriptor: d}), &op{read: getReq("k")})
	var nl *rangegroup.NotLeaderError
	if !errors.As(err, &nl) || nl.Leader != "b" || nl.RangeID != 7 || nl.Descriptor.GetGeneration() != 3 || back.leader != "b" {
		t.Fatalf("not leader: %#v", err)
	}
	_, err = decodeReply(encodeReply(&reply{rangeID: 7, desc: d}, mismatch(d, 5)), &op{read: getReq("k")})
	var rm *rangegroup.RangeMismatchError
	if !errors.As(err, &rm) || rm.Descriptor.GetRangeId() != 7 || rm.Descriptor.GetEnd() != 20 {
		t.Fatalf("range mismatch: %#v", err)
	}
	// A served reply carries the response.
	resp := &kvpb.ReadResponse{Results: []*kvpb.Result{{Value: &kvpb.Value{Value: []byte("x")}}}}
	back, err = decodeReply(encodeReply(&reply{rangeID: 7, read: resp}, nil), &op{read: getReq("k")})
	if err != nil || string(back.read.GetResults()[0].GetValue().GetValue()) != "x" || back.desc != nil {
		t.Fatalf("served reply: %v, %v", back, err)
	}
	// A reply that cannot be decoded is no answer at all.
	if _, err := decodeReply(&routerpb.ServeReply{Descriptor_: []byte{0xff}}, &op{read: getReq("k")}); err == nil {
		t.Fatal("a corrupt descriptor decoded")
	}
}
