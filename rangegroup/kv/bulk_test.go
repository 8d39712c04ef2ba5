package kv

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

func TestPutManyAppliesAllAtOneRevision(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	items := make([]*kvpb.PutRequest, 500)
	for i := range items {
		items[i] = putOp(fmt.Sprintf("key-%03d", i), fmt.Sprintf("v%d", i))
	}
	resp := f.apply(putMany(items...))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	if len(resp.GetResults()) != 500 || f.s.len() != 500 {
		t.Fatalf("%d results, %d keys", len(resp.GetResults()), f.s.len())
	}
	for i := range items {
		got := f.get(fmt.Sprintf("key-%03d", i))
		wantValue(t, got, &kvpb.Value{Value: fmt.Appendf(nil, "v%d", i), CreateRevision: 1, ModRevision: 1, Version: 1})
	}
}

// Items of one bulk command apply in order, each seeing the ones before.
func TestPutManyDuplicateKeysApplyInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp := f.apply(putMany(putOp("k", "1"), putOp("k", "2", withCond(&kvpb.Condition{Value: []byte("1")}))))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	wantValue(t, f.get("k"), &kvpb.Value{Value: []byte("2"), CreateRevision: 1, ModRevision: 1, Version: 2})
}

func TestPutManyOneFailedConditionAppliesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("exists", "v")
	resp := f.applyUnchanged(putMany(
		putOp("new1", "a"),
		putOp("exists", "b", withCond(&kvpb.Condition{MustNotExist: true})),
		putOp("new2", "c", withCond(&kvpb.Condition{MustNotExist: true})),
		putOp("exists", "d", withCond(&kvpb.Condition{Version: u64(7)})),
	), kvpb.ErrorCode_CONDITION_FAILED)
	want := []kvpb.ErrorCode{kvpb.ErrorCode_OK, kvpb.ErrorCode_CONDITION_FAILED, kvpb.ErrorCode_OK, kvpb.ErrorCode_CONDITION_FAILED}
	for i, r := range resp.GetResults() {
		if r.GetCode() != want[i] {
			t.Fatalf("item %d: %v, want %v", i, r.GetCode(), want[i])
		}
	}
	if len(resp.GetResults()) != len(want) {
		t.Fatalf("%d results", len(resp.GetResults()))
	}
	if f.get("new1") != nil {
		t.Fatal("item before the failure was applied")
	}
}

func TestDeleteMany(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("a", "1")
	f.mustPut("b", "2")
	f.mustPut("c", "3")
	// A failed condition aborts the whole command.
	f.applyUnchanged(deleteMany(
		&kvpb.DeleteRequest{Key: []byte("a")},
		&kvpb.DeleteRequest{Key: []byte("b"), Condition: &kvpb.Condition{Value: []byte("nope")}},
	), kvpb.ErrorCode_CONDITION_FAILED)
	// A missing key does not.
	resp := f.apply(deleteMany(
		&kvpb.DeleteRequest{Key: []byte("a")},
		&kvpb.DeleteRequest{Key: []byte("missing")},
		&kvpb.DeleteRequest{Key: []byte("b"), Condition: &kvpb.Condition{Value: []byte("2")}},
		&kvpb.DeleteRequest{Key: []byte("a")},
	))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	want := []kvpb.ErrorCode{kvpb.ErrorCode_OK, kvpb.ErrorCode_NOT_FOUND, kvpb.ErrorCode_OK, kvpb.ErrorCode_NOT_FOUND}
	for i, r := range resp.GetResults() {
		if r.GetCode() != want[i] {
			t.Fatalf("item %d: %v, want %v", i, r.GetCode(), want[i])
		}
	}
	if f.get("a") != nil || f.get("b") != nil || f.get("c") == nil {
		t.Fatal("wrong keys deleted")
	}
}

func TestTouchMany(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("a", "1")
	f.mustPut("b", "2", withTTL(5))
	resp := f.apply(touchMany(
		&kvpb.TouchRequest{Key: []byte("a"), Ttl: 100},
		&kvpb.TouchRequest{Key: []byte("missing"), Ttl: 100},
		&kvpb.TouchRequest{Key: []byte("b"), Ttl: 0},
	))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	if c := resp.GetResults()[1].GetCode(); c != kvpb.ErrorCode_NOT_FOUND {
		t.Fatalf("missing key: %v", c)
	}
	if got := f.get("a"); got.GetExpiresAt() != f.now+100 || got.GetModRevision() != 3 {
		t.Fatalf("a after touch %v", got)
	}
	f.now += 1000
	if got := f.get("b"); got == nil || got.GetExpiresAt() != 0 {
		t.Fatalf("b after persist %v", got)
	}
	if f.get("missing") != nil {
		t.Fatal("touch created a key")
	}
}

func TestGetMany(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("a", "1")
	f.mustPut("b", "2", withTTL(1))
	f.now++
	resp := f.read(getManyReq("a", "b", "c", "a"))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	want := []string{"1", "", "", "1"}
	for i, r := range resp.GetResults() {
		if want[i] == "" {
			wantCode(t, r.GetCode(), kvpb.ErrorCode_NOT_FOUND, r.GetMessage())
			continue
		}
		if r.GetCode() != kvpb.ErrorCode_OK || string(r.GetValue().GetValue()) != want[i] {
			t.Fatalf("item %d: %v", i, r)
		}
	}
}
