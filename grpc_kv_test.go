package concord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	kvapi "github.com/concord-kv/concord/api/kvpb"
	"github.com/concord-kv/concord/internal/await"
)

func TestGRPCErrorCarriesTheCode(t *testing.T) {
	t.Parallel()
	want := map[Code]codes.Code{
		CodeNotFound:        codes.NotFound,
		CodeConditionFailed: codes.FailedPrecondition,
		CodeInvalidKey:      codes.InvalidArgument,
		CodeInvalidArgument: codes.InvalidArgument,
		CodeValueTooLarge:   codes.InvalidArgument,
		CodeBatchTooLarge:   codes.InvalidArgument,
		CodeTimeout:         codes.DeadlineExceeded,
		CodeUnavailable:     codes.Unavailable,
		CodeClosed:          codes.Unavailable,
		CodeInternal:        codes.Internal,
	}
	for code, gc := range want {
		err := grpcError(fmt.Errorf("concord: op: %w", code.Err()))
		st := status.Convert(err)
		prefix, _, ok := strings.Cut(st.Message(), ": ")
		if st.Code() != gc || !ok || Code(prefix) != code {
			t.Errorf("%s: status %v %q", code, st.Code(), st.Message())
		}
		if e := errorPB(code.Err()); e.GetCode() != string(code) {
			t.Errorf("%s: item error %v", code, e)
		}
	}
	if st := status.Convert(grpcError(context.Canceled)); st.Code() != codes.Canceled {
		t.Errorf("canceled: %v", st)
	}
	if e := errorPB(nil); e.GetCode() != string(CodeOK) {
		t.Errorf("ok item error %v", e)
	}
}

// TestKVServerRejectsMalformedRequests calls the service's handlers
// directly with requests no Go client would build: each must fail with
// INVALID_ARGUMENT and its code, never panic or write.
func TestKVServerRejectsMalformedRequests(t *testing.T) {
	t.Parallel()
	c := newKVCluster(t)
	n := c.add().node
	s := &kvServer{n: n}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	await.Until(t, 15*time.Second, "the first range has a leader", func() error {
		_, err := n.Put(ctx, []byte("ready"), nil)
		return err
	})
	key := []byte("k")
	for name, call := range map[string]func() error{
		"nil put":            func() error { _, err := s.Put(ctx, nil); return err },
		"nil put if":         func() error { _, err := s.PutIf(ctx, nil); return err },
		"nil get":            func() error { _, err := s.Get(ctx, nil); return err },
		"nil delete":         func() error { _, err := s.Delete(ctx, nil); return err },
		"nil delete if":      func() error { _, err := s.DeleteIf(ctx, nil); return err },
		"nil touch":          func() error { _, err := s.Touch(ctx, nil); return err },
		"nil ttl":            func() error { _, err := s.TTL(ctx, nil); return err },
		"nil put many":       func() error { _, err := s.PutMany(ctx, nil); return err },
		"nil get many":       func() error { _, err := s.GetMany(ctx, nil); return err },
		"nil delete many":    func() error { _, err := s.DeleteMany(ctx, nil); return err },
		"nil touch many":     func() error { _, err := s.TouchMany(ctx, nil); return err },
		"nil txn":            func() error { _, err := s.Txn(ctx, nil); return err },
		"put if, no cond":    func() error { _, err := s.PutIf(ctx, &kvapi.PutIfRequest{Key: key}); return err },
		"unknown level":      func() error { _, err := s.Get(ctx, &kvapi.GetRequest{Key: key, Consistency: 99}); return err },
		"unknown scan level": func() error { _, err := s.Scan(ctx, &kvapi.ScanRequest{Consistency: -1}); return err },
		"bad duration": func() error {
			_, err := s.Put(ctx, &kvapi.PutRequest{Key: key, Ttl: &durationpb.Duration{Seconds: 1, Nanos: -1}})
			return err
		},
		"huge ttl": func() error {
			_, err := s.Put(ctx, &kvapi.PutRequest{Key: key, Ttl: &durationpb.Duration{Seconds: 1 << 50}})
			return err
		},
		"ttl and keep ttl": func() error {
			_, err := s.Put(ctx, &kvapi.PutRequest{Key: key, Ttl: &durationpb.Duration{}, KeepTtl: true})
			return err
		},
		"bad item duration": func() error {
			_, err := s.TouchMany(ctx, &kvapi.TouchManyRequest{Items: []*kvapi.TouchItem{{Key: key, Ttl: &durationpb.Duration{Nanos: 2e9}}}})
			return err
		},
		"nil put item": func() error {
			_, err := s.PutMany(ctx, &kvapi.PutManyRequest{Items: []*kvapi.PutItem{nil}})
			return err
		},
		"empty txn op": func() error {
			_, err := s.Txn(ctx, &kvapi.TxnRequest{Then: []*kvapi.TxnOp{{}}})
			return err
		},
		"unknown compare target": func() error {
			_, err := s.Txn(ctx, &kvapi.TxnRequest{Compares: []*kvapi.Compare{{Key: key, Target: 42}}})
			return err
		},
		"unknown compare op": func() error {
			_, err := s.Txn(ctx, &kvapi.TxnRequest{Compares: []*kvapi.Compare{{Key: key, Target: kvapi.Compare_VALUE, Op: 9}}})
			return err
		},
		"huge scan limit":     func() error { _, err := s.Scan(ctx, &kvapi.ScanRequest{Limit: 1 << 40}); return err },
		"negative scan limit": func() error { _, err := s.Scan(ctx, &kvapi.ScanRequest{Limit: -1 << 40}); return err },
	} {
		err := call()
		st := status.Convert(err)
		code, _, _ := strings.Cut(st.Message(), ": ")
		if st.Code() != codes.InvalidArgument || !errors.Is(Code(code).Err(), errInvalidInput(Code(code))) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := n.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a rejected request wrote: %v", err)
	}
}

// errInvalidInput is the sentinel of code if it is one of bad input, so
// that the check above fails for any other code.
func errInvalidInput(code Code) error {
	switch code {
	case CodeInvalidKey, CodeInvalidArgument, CodeValueTooLarge, CodeBatchTooLarge:
		return code.Err()
	}
	return errors.New("not an input error")
}
