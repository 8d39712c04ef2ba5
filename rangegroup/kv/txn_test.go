package kv

import (
	"math"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

func cmp(key string, target kvpb.Compare_Target, op kvpb.Compare_Op, value string, number uint64) *kvpb.Compare {
	c := &kvpb.Compare{Key: []byte(key), Target: target, Op: op, Number: number}
	if value != "" {
		c.Value = []byte(value)
	}
	return c
}

func TestTxnCompares(t *testing.T) {
	t.Parallel()
	const (
		eq = kvpb.Compare_EQUAL
		ne = kvpb.Compare_NOT_EQUAL
		lt = kvpb.Compare_LESS
		gt = kvpb.Compare_GREATER
	)
	// "k" = "m", created at rev 1, rewritten at rev 3: version 2.
	cases := []struct {
		c    *kvpb.Compare
		want bool
	}{
		{cmp("k", kvpb.Compare_VALUE, eq, "m", 0), true},
		{cmp("k", kvpb.Compare_VALUE, eq, "n", 0), false},
		{cmp("k", kvpb.Compare_VALUE, ne, "n", 0), true},
		{cmp("k", kvpb.Compare_VALUE, lt, "n", 0), true},
		{cmp("k", kvpb.Compare_VALUE, lt, "m", 0), false},
		{cmp("k", kvpb.Compare_VALUE, gt, "l", 0), true},
		{cmp("k", kvpb.Compare_VALUE, gt, "", 0), true},
		{cmp("k", kvpb.Compare_VALUE, gt, "mm", 0), false},
		{cmp("k", kvpb.Compare_VERSION, eq, "", 2), true},
		{cmp("k", kvpb.Compare_VERSION, ne, "", 2), false},
		{cmp("k", kvpb.Compare_VERSION, lt, "", 3), true},
		{cmp("k", kvpb.Compare_VERSION, gt, "", 1), true},
		{cmp("k", kvpb.Compare_VERSION, gt, "", 2), false},
		{cmp("k", kvpb.Compare_CREATE_REVISION, eq, "", 1), true},
		{cmp("k", kvpb.Compare_CREATE_REVISION, gt, "", 1), false},
		{cmp("k", kvpb.Compare_MOD_REVISION, eq, "", 3), true},
		{cmp("k", kvpb.Compare_MOD_REVISION, lt, "", 3), false},
		{cmp("k", kvpb.Compare_MOD_REVISION, lt, "", math.MaxUint64), true},
		{cmp("k", kvpb.Compare_EXISTS, eq, "", 0), true},
		{cmp("k", kvpb.Compare_NOT_EXISTS, eq, "", 0), false},
		// An absent key: zero version and revisions, no value.
		{cmp("absent", kvpb.Compare_EXISTS, eq, "", 0), false},
		{cmp("absent", kvpb.Compare_NOT_EXISTS, eq, "", 0), true},
		{cmp("absent", kvpb.Compare_VERSION, eq, "", 0), true},
		{cmp("absent", kvpb.Compare_CREATE_REVISION, eq, "", 0), true},
		{cmp("absent", kvpb.Compare_MOD_REVISION, lt, "", 1), true},
		{cmp("absent", kvpb.Compare_VALUE, eq, "", 0), false},
		{cmp("absent", kvpb.Compare_VALUE, ne, "x", 0), false},
		{cmp("absent", kvpb.Compare_VALUE, lt, "x", 0), false},
		// An expired key is absent too.
		{cmp("expired", kvpb.Compare_EXISTS, eq, "", 0), false},
		{cmp("expired", kvpb.Compare_VERSION, eq, "", 0), true},
	}
	for _, c := range cases {
		f := newFixture(t)
		f.mustPut("k", "l")                   // rev 1
		f.mustPut("expired", "x", withTTL(1)) // rev 2
		f.mustPut("k", "m")                   // rev 3
		f.now++
		resp := f.apply(txnReq(&kvpb.TxnRequest{
			Compares: []*kvpb.Compare{c.c},
			ThenOps:  []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Put{Put: putOp("branch", "then")}}},
			ElseOps:  []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Put{Put: putOp("branch", "else")}}},
		}))
		wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
		if resp.GetSucceeded() != c.want {
			t.Errorf("compare %v: succeeded %v, want %v", c.c, resp.GetSucceeded(), c.want)
		}
		branch := "else"
		if c.want {
			branch = "then"
		}
		if got := f.get("branch"); string(got.GetValue()) != branch {
			t.Errorf("compare %v: ran %q", c.c, got.GetValue())
		}
	}
}

func TestTxnComparesCombineWithAnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("a", "1")
	f.mustPut("b", "2")
	run := func(cs ...*kvpb.Compare) bool {
		resp := f.apply(txnReq(&kvpb.TxnRequest{Compares: cs}))
		wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
		return resp.GetSucceeded()
	}
	if !run(cmp("a", kvpb.Compare_VALUE, kvpb.Compare_EQUAL, "1", 0), cmp("b", kvpb.Compare_VALUE, kvpb.Compare_EQUAL, "2", 0)) {
		t.Fatal("both hold, txn failed")
	}
	if run(cmp("a", kvpb.Compare_VALUE, kvpb.Compare_EQUAL, "1", 0), cmp("b", kvpb.Compare_VALUE, kvpb.Compare_EQUAL, "3", 0)) {
		t.Fatal("second fails, txn succeeded")
	}
	resp := f.apply(txnReq(&kvpb.TxnRequest{ThenOps: []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Put{Put: putOp("c", "3")}}}}))
	if !resp.GetSucceeded() || f.get("c") == nil {
		t.Fatalf("txn without compares did not run its then ops: %v", resp)
	}
}

// The ops of a branch run in order and see each other, all at one
// revision; compares see the state before any of them.
func TestTxnOpsSeeEarlierOps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("{u}:name", "ann") // rev 1
	get := func(k string) *kvpb.TxnOp {
		return &kvpb.TxnOp{Op: &kvpb.TxnOp_Get{Get: &kvpb.GetRequest{Key: []byte(k)}}}
	}
	resp := f.apply(txnReq(&kvpb.TxnRequest{ // rev 2
		Compares: []*kvpb.Compare{cmp("{u}:email", kvpb.Compare_NOT_EXISTS, kvpb.Compare_EQUAL, "", 0)},
		ThenOps: []*kvpb.TxnOp{
			get("{u}:name"),
			{Op: &kvpb.TxnOp_Put{Put: putOp("{u}:email", "a@x")}},
			get("{u}:email"),
			{Op: &kvpb.TxnOp_Put{Put: putOp("{u}:email", "b@x", withTTL(50))}},
			{Op: &kvpb.TxnOp_Delete{Delete: &kvpb.DeleteRequest{Key: []byte("{u}:name")}}},
			get("{u}:name"),
			{Op: &kvpb.TxnOp_Delete{Delete: &kvpb.DeleteRequest{Key: []byte("{u}:never")}}},
		},
	}))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	if !resp.GetSucceeded() || len(resp.GetResults()) != 7 {
		t.Fatalf("txn %v", resp)
	}
	r := resp.GetResults()
	wantValue(t, r[0].GetValue(), &kvpb.Value{Value: []byte("ann"), CreateRevision: 1, ModRevision: 1, Version: 1})
	wantValue(t, r[2].GetValue(), &kvpb.Value{Value: []byte("a@x"), CreateRevision: 2, ModRevision: 2, Version: 1})
	wantValue(t, r[3].GetValue(), &kvpb.Value{CreateRevision: 2, ModRevision: 2, Version: 2, ExpiresAt: f.now + 50})
	wantCode(t, r[5].GetCode(), kvpb.ErrorCode_NOT_FOUND, "")
	wantCode(t, r[6].GetCode(), kvpb.ErrorCode_NOT_FOUND, "")
	wantValue(t, f.get("{u}:email"), &kvpb.Value{Value: []byte("b@x"), CreateRevision: 2, ModRevision: 2, Version: 2, ExpiresAt: f.now + 50})
	if f.get("{u}:name") != nil || f.s.len() != 1 {
		t.Fatalf("store has %d keys", f.s.len())
	}
}

func TestTxnElseBranchAndReadOnlyTxnWriteNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v")
	resp := f.applyUnchanged(txnReq(&kvpb.TxnRequest{
		Compares: []*kvpb.Compare{cmp("k", kvpb.Compare_VALUE, kvpb.Compare_EQUAL, "other", 0)},
		ThenOps:  []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Delete{Delete: &kvpb.DeleteRequest{Key: []byte("k")}}}},
		ElseOps:  []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Get{Get: &kvpb.GetRequest{Key: []byte("k")}}}},
	}), kvpb.ErrorCode_OK)
	if resp.GetSucceeded() || string(resp.GetResults()[0].GetValue().GetValue()) != "v" {
		t.Fatalf("else branch %v", resp)
	}
}

// A put whose expiry cannot be represented aborts the whole branch, even
// after earlier ops of it ran.
func TestTxnAbortAppliesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v")
	f.now = math.MaxInt64 - 1
	resp := f.applyUnchanged(txnReq(&kvpb.TxnRequest{
		ThenOps: []*kvpb.TxnOp{
			{Op: &kvpb.TxnOp_Delete{Delete: &kvpb.DeleteRequest{Key: []byte("k")}}},
			{Op: &kvpb.TxnOp_Put{Put: putOp("n", "v", withTTL(10))}},
		},
	}), kvpb.ErrorCode_INVALID_ARGUMENT)
	if len(resp.GetResults()) != 2 {
		t.Fatalf("results %v", resp.GetResults())
	}
}
