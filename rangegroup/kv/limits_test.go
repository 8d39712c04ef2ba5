package kv

import (
	"errors"
	"strings"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

func TestDefaultLimits(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	if l.MaxKeySize != 4096 || l.MaxValueSize != 1<<20 || l.MaxBatchItems != 500 {
		t.Fatalf("DefaultLimits() = %+v", l)
	}
	if err := l.Check(); err != nil {
		t.Fatalf("defaults fail Check: %v", err)
	}
}

func TestLimitsCheck(t *testing.T) {
	t.Parallel()
	ok := DefaultLimits()
	ok.MaxValueSize = 16 << 20
	if err := ok.Check(); err != nil {
		t.Fatalf("16 MiB values rejected: %v", err)
	}
	bad := []Limits{
		{MaxKeySize: 4096, MaxValueSize: 16<<20 + 1, MaxBatchItems: 500},
		{MaxKeySize: 0, MaxValueSize: 1, MaxBatchItems: 1},
		{MaxKeySize: 1, MaxValueSize: 0, MaxBatchItems: 1},
		{MaxKeySize: 1, MaxValueSize: 1, MaxBatchItems: 0},
		{MaxKeySize: -1, MaxValueSize: 1, MaxBatchItems: 1},
	}
	for _, l := range bad {
		if err := l.Check(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Check(%+v) = %v, want ErrInvalidArgument", l, err)
		}
	}
}

// Every way a command can be malformed: Validate rejects it with the right
// sentinel, and Apply reports the same code and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("k", 4097)
	huge := strings.Repeat("v", 1<<20+1)
	max := strings.Repeat("k", 4096)
	items := func(n int) []*kvpb.PutRequest {
		out := make([]*kvpb.PutRequest, n)
		for i := range out {
			out[i] = putOp("k", "v")
		}
		return out
	}
	cases := []struct {
		name string
		req  *kvpb.Request
		want error
	}{
		{"nil request", nil, ErrInvalidArgument},
		{"no op", &kvpb.Request{}, ErrInvalidArgument},
		{"nil put", &kvpb.Request{Op: &kvpb.Request_Put{}}, ErrInvalidArgument},
		{"empty key", put("", "v"), ErrInvalidKey},
		{"long key", put(big, "v"), ErrInvalidKey},
		{"large value", put("k", huge), ErrValueTooLarge},
		{"negative ttl", put("k", "v", withTTL(-1)), ErrInvalidArgument},
		{"ttl above max", put("k", "v", withTTL(int64(MaxTTL)+1)), ErrInvalidArgument},
		{"keep_ttl with ttl", put("k", "v", withTTL(5), keepTTL), ErrInvalidArgument},
		{"must exist and not", put("k", "v", withCond(&kvpb.Condition{MustExist: true, MustNotExist: true})), ErrInvalidArgument},
		{"not exist with value", put("k", "v", withCond(&kvpb.Condition{MustNotExist: true, Value: []byte{}})), ErrInvalidArgument},
		{"expected version 0", put("k", "v", withCond(&kvpb.Condition{Version: u64(0)})), ErrInvalidArgument},
		{"expected mod rev 0", del("k", &kvpb.Condition{ModRevision: u64(0)}), ErrInvalidArgument},
		{"large expected value", put("k", "v", withCond(&kvpb.Condition{Value: []byte(huge)})), ErrValueTooLarge},
		{"delete empty key", del("", nil), ErrInvalidKey},
		{"nil delete", &kvpb.Request{Op: &kvpb.Request_Delete{}}, ErrInvalidArgument},
		{"touch long key", touch(big, 1), ErrInvalidKey},
		{"touch negative ttl", touch("k", -1), ErrInvalidArgument},
		{"nil touch", &kvpb.Request{Op: &kvpb.Request_Touch{}}, ErrInvalidArgument},
		{"put_many empty", putMany(), ErrInvalidArgument},
		{"put_many nil", &kvpb.Request{Op: &kvpb.Request_PutMany{}}, ErrInvalidArgument},
		{"put_many 501", putMany(items(501)...), ErrBatchTooLarge},
		{"put_many bad last item", putMany(append(items(3), putOp("", "v"))...), ErrInvalidKey},
		{"put_many nil item", putMany(putOp("k", "v"), nil), ErrInvalidArgument},
		{"delete_many empty", deleteMany(), ErrInvalidArgument},
		{"delete_many bad item", deleteMany(&kvpb.DeleteRequest{Key: []byte("a")}, &kvpb.DeleteRequest{Key: []byte(big)}), ErrInvalidKey},
		{"touch_many bad ttl", touchMany(&kvpb.TouchRequest{Key: []byte("a"), Ttl: -3}), ErrInvalidArgument},
		{"sweep empty", sweepReq(), ErrInvalidArgument},
		{"sweep without revision", sweepReq(&kvpb.SweepItem{Key: []byte("a")}), ErrInvalidArgument},
		{"sweep bad key", sweepReq(&kvpb.SweepItem{Key: nil, ModRevision: 1}), ErrInvalidKey},
		{"txn nil", &kvpb.Request{Op: &kvpb.Request_Txn{}}, ErrInvalidArgument},
		{"txn empty", txnReq(&kvpb.TxnRequest{}), ErrInvalidArgument},
		{"txn unknown target", txnReq(&kvpb.TxnRequest{Compares: []*kvpb.Compare{{Key: []byte("a"), Target: 99}}}), ErrInvalidArgument},
		{"txn unknown op", txnReq(&kvpb.TxnRequest{Compares: []*kvpb.Compare{{Key: []byte("a"), Op: 99}}}), ErrInvalidArgument},
		{"txn exists with op", txnReq(&kvpb.TxnRequest{Compares: []*kvpb.Compare{{Key: []byte("a"), Target: kvpb.Compare_EXISTS, Op: kvpb.Compare_LESS}}}), ErrInvalidArgument},
		{"txn value with number", txnReq(&kvpb.TxnRequest{Compares: []*kvpb.Compare{{Key: []byte("a"), Number: 3}}}), ErrInvalidArgument},
		{"txn version with value", txnReq(&kvpb.TxnRequest{Compares: []*kvpb.Compare{{Key: []byte("a"), Target: kvpb.Compare_VERSION, Value: []byte("x")}}}), ErrInvalidArgument},
		{"txn compare empty key", txnReq(&kvpb.TxnRequest{Compares: []*kvpb.Compare{{Target: kvpb.Compare_EXISTS}}}), ErrInvalidKey},
		{"txn compare large value", txnReq(&kvpb.TxnRequest{Compares: []*kvpb.Compare{{Key: []byte("a"), Value: []byte(huge)}}}), ErrValueTooLarge},
		{"txn op empty", txnReq(&kvpb.TxnRequest{ThenOps: []*kvpb.TxnOp{{}}}), ErrInvalidArgument},
		{"txn put with condition", txnReq(&kvpb.TxnRequest{ThenOps: []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Put{Put: putOp("a", "v", withCond(&kvpb.Condition{MustExist: true}))}}}}), ErrInvalidArgument},
		{"txn delete with condition", txnReq(&kvpb.TxnRequest{ElseOps: []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Delete{Delete: &kvpb.DeleteRequest{Key: []byte("a"), Condition: &kvpb.Condition{MustExist: true}}}}}}), ErrInvalidArgument},
		{"txn get nil", txnReq(&kvpb.TxnRequest{ThenOps: []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Get{}}}}), ErrInvalidArgument},
		{"txn large put in else", txnReq(&kvpb.TxnRequest{ElseOps: []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Put{Put: putOp("a", huge)}}}}), ErrValueTooLarge},
		{"txn too many compares", txnReq(&kvpb.TxnRequest{Compares: make([]*kvpb.Compare, 501)}), ErrBatchTooLarge},
		{"txn too many then ops", txnReq(&kvpb.TxnRequest{ThenOps: make([]*kvpb.TxnOp, 501)}), ErrBatchTooLarge},
		{"read no op", &kvpb.Request{Op: &kvpb.Request_Read{Read: &kvpb.ReadRequest{}}}, ErrInvalidArgument},
		{"read nil", &kvpb.Request{Op: &kvpb.Request_Read{}}, ErrInvalidArgument},
		{"read bad key", &kvpb.Request{Op: &kvpb.Request_Read{Read: getReq("")}}, ErrInvalidKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := DefaultLimits().Validate(c.req)
			if !errors.Is(err, c.want) {
				t.Fatalf("Validate = %v, want %v", err, c.want)
			}
			f := newFixture(t)
			f.mustPut("k", "existing")
			f.mustPut("a", "existing", withTTL(10))
			f.mustPut(max, "max-size key")
			resp := f.applyUnchanged(c.req, CodeOf(c.want))
			if len(resp.GetResults()) != 0 || resp.GetMessage() == "" {
				t.Fatalf("rejected command: results %v, message %q", resp.GetResults(), resp.GetMessage())
			}
		})
	}
}

func TestValidateNamesTheItem(t *testing.T) {
	t.Parallel()
	err := DefaultLimits().Validate(putMany(putOp("a", "v"), putOp("b", "v"), putOp("", "v")))
	if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "put_many item 2") {
		t.Fatalf("error %q does not name item 2", err)
	}
	err = DefaultLimits().Validate(txnReq(&kvpb.TxnRequest{ElseOps: []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Get{Get: &kvpb.GetRequest{}}}}}))
	if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "txn else op 0") {
		t.Fatalf("error %q does not name the else op", err)
	}
}

func TestValidateAcceptsLimits(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	ok := []*kvpb.Request{
		put(strings.Repeat("k", 4096), strings.Repeat("v", 1<<20)),
		put("k", ""),
		put("k", "v", withTTL(int64(MaxTTL))),
		put("k", "v", keepTTL),
		put("k", "v", withCond(&kvpb.Condition{Value: []byte{}, Version: u64(1), ModRevision: u64(1), MustExist: true})),
		putMany(make500()...),
	}
	for _, req := range ok {
		if err := l.Validate(req); err != nil {
			t.Errorf("Validate rejected a request at the limits: %v", err)
		}
	}
	small := Limits{MaxKeySize: 2, MaxValueSize: 3, MaxBatchItems: 1}
	if err := small.Validate(put("abc", "v")); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("custom key limit not applied: %v", err)
	}
	if err := small.Validate(put("ab", "vvvv")); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("custom value limit not applied: %v", err)
	}
	if err := small.Validate(putMany(putOp("a", "v"), putOp("b", "v"))); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("custom batch limit not applied: %v", err)
	}
}

func make500() []*kvpb.PutRequest {
	out := make([]*kvpb.PutRequest, 500)
	for i := range out {
		out[i] = putOp("k", "v")
	}
	return out
}

func TestValidateRead(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	keys := make([]string, 501)
	for i := range keys {
		keys[i] = "k"
	}
	cases := []struct {
		req  *kvpb.ReadRequest
		want error
	}{
		{nil, ErrInvalidArgument},
		{&kvpb.ReadRequest{}, ErrInvalidArgument},
		{getReq(""), ErrInvalidKey},
		{ttlReq(strings.Repeat("k", 4097)), ErrInvalidKey},
		{getManyReq(), ErrInvalidArgument},
		{getManyReq(keys...), ErrBatchTooLarge},
		{getManyReq("a", ""), ErrInvalidKey},
		{&kvpb.ReadRequest{Op: &kvpb.ReadRequest_Scan{}}, ErrInvalidArgument},
		{scanReq(nil, 501, false), ErrBatchTooLarge},
		{scanReq(&kvpb.Cursor{Position: 3}, 10, false), ErrInvalidKey},
	}
	for _, c := range cases {
		if err := l.ValidateRead(c.req); !errors.Is(err, c.want) {
			t.Errorf("ValidateRead(%v) = %v, want %v", c.req, err, c.want)
		}
		f := newFixture(t)
		resp := f.read(c.req)
		if resp.GetCode() != CodeOf(c.want) || len(resp.GetResults()) != 0 {
			t.Errorf("Read(%v) = %v", c.req, resp)
		}
	}
	if err := l.ValidateRead(getManyReq(keys[:500]...)); err != nil {
		t.Fatalf("500 keys rejected: %v", err)
	}
	if err := l.ValidateRead(scanReq(nil, 500, true)); err != nil {
		t.Fatalf("scan limit 500 rejected: %v", err)
	}
}
