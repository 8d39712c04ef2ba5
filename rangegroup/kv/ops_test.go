package kv

import (
	"bytes"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

func TestPutGetRevisions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if got := f.get("k"); got != nil {
		t.Fatalf("empty store has %v", got)
	}
	v := f.mustPut("k", "one") // rev 1
	wantValue(t, v, &kvpb.Value{CreateRevision: 1, ModRevision: 1, Version: 1})
	wantValue(t, f.get("k"), &kvpb.Value{Value: []byte("one"), CreateRevision: 1, ModRevision: 1, Version: 1})

	f.mustPut("other", "x")   // rev 2
	v = f.mustPut("k", "two") // rev 3
	wantValue(t, v, &kvpb.Value{CreateRevision: 1, ModRevision: 3, Version: 2})
	wantValue(t, f.get("k"), &kvpb.Value{Value: []byte("two"), CreateRevision: 1, ModRevision: 3, Version: 2})

	// Delete and recreate: version and create revision start again.
	resp := f.apply(del("k", nil)) // rev 4
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	wantValue(t, resp.GetResults()[0].GetValue(), &kvpb.Value{CreateRevision: 1, ModRevision: 3, Version: 2})
	if got := f.get("k"); got != nil {
		t.Fatalf("deleted key reads %v", got)
	}
	v = f.mustPut("k", "three") // rev 5
	wantValue(t, v, &kvpb.Value{CreateRevision: 5, ModRevision: 5, Version: 1})
	wantValue(t, f.get("other"), &kvpb.Value{Value: []byte("x"), CreateRevision: 2, ModRevision: 2, Version: 1})
}

func TestEmptyValue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "")
	got := f.get("k")
	if got == nil || len(got.GetValue()) != 0 || got.GetVersion() != 1 {
		t.Fatalf("empty value reads %v", got)
	}
}

func TestDeleteMissingIsNotFoundAndChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("a", "1")
	resp := f.applyUnchanged(del("missing", nil), kvpb.ErrorCode_NOT_FOUND)
	if len(resp.GetResults()) != 1 || resp.GetResults()[0].GetCode() != kvpb.ErrorCode_NOT_FOUND {
		t.Fatalf("results %v", resp.GetResults())
	}
}

func TestTouch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v")             // rev 1, no expiry
	resp := f.apply(touch("k", 50)) // rev 2
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	want := &kvpb.Value{CreateRevision: 1, ModRevision: 2, Version: 2, ExpiresAt: f.now + 50}
	wantValue(t, resp.GetResults()[0].GetValue(), want)
	got := f.get("k")
	if string(got.GetValue()) != "v" || got.GetExpiresAt() != f.now+50 || got.GetVersion() != 2 {
		t.Fatalf("after touch %v", got)
	}
	// ttl 0 removes the expiry.
	resp = f.apply(touch("k", 0))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	f.now += 1000
	if got := f.get("k"); got == nil || got.GetExpiresAt() != 0 || string(got.GetValue()) != "v" {
		t.Fatalf("persisted key reads %v", got)
	}
	f.applyUnchanged(touch("missing", 5), kvpb.ErrorCode_NOT_FOUND)
}

func TestTTLQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("short", "v", withTTL(30))
	f.mustPut("forever", "v")
	f.now += 10
	resp := f.read(ttlReq("short"))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	r := resp.GetResults()[0]
	if r.GetTtl() != 20 || r.GetValue().GetExpiresAt() != f.now+20 || len(r.GetValue().GetValue()) != 0 {
		t.Fatalf("ttl result %v", r)
	}
	resp = f.read(ttlReq("forever"))
	if r := resp.GetResults()[0]; resp.GetCode() != kvpb.ErrorCode_OK || r.GetTtl() != 0 || r.GetValue().GetExpiresAt() != 0 {
		t.Fatalf("ttl of a key without expiry %v", resp)
	}
	resp = f.read(ttlReq("missing"))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_NOT_FOUND, resp.GetMessage())
}

func TestPutTTLAndKeepTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := f.mustPut("k", "a", withTTL(100))
	if v.GetExpiresAt() != f.now+100 {
		t.Fatalf("expires at %d", v.GetExpiresAt())
	}
	f.now += 10
	v = f.mustPut("k", "b", keepTTL)
	if v.GetExpiresAt() != f.now+90 {
		t.Fatalf("keep_ttl moved the expiry to %d", v.GetExpiresAt())
	}
	v = f.mustPut("k", "c") // a plain put clears the expiry
	if v.GetExpiresAt() != 0 {
		t.Fatalf("plain put kept expiry %d", v.GetExpiresAt())
	}
	v = f.mustPut("fresh", "x", keepTTL) // nothing to keep
	if v.GetExpiresAt() != 0 || v.GetVersion() != 1 {
		t.Fatalf("keep_ttl on a new key %v", v)
	}
}

func TestConditionalPut(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cond *kvpb.Condition
		ok   bool
	}{
		{"value matches", &kvpb.Condition{Value: []byte("cur")}, true},
		{"value differs", &kvpb.Condition{Value: []byte("other")}, false},
		{"empty expected value differs", &kvpb.Condition{Value: []byte{}}, false},
		{"version matches", &kvpb.Condition{Version: u64(2)}, true},
		{"version differs", &kvpb.Condition{Version: u64(1)}, false},
		{"mod revision matches", &kvpb.Condition{ModRevision: u64(3)}, true},
		{"mod revision differs", &kvpb.Condition{ModRevision: u64(2)}, false},
		{"must exist", &kvpb.Condition{MustExist: true}, true},
		{"must not exist", &kvpb.Condition{MustNotExist: true}, false},
		{"all hold", &kvpb.Condition{Value: []byte("cur"), Version: u64(2), ModRevision: u64(3), MustExist: true}, true},
		{"one of all fails", &kvpb.Condition{Value: []byte("cur"), Version: u64(2), ModRevision: u64(4)}, false},
		{"empty condition", &kvpb.Condition{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.mustPut("k", "old") // rev 1
			f.mustPut("x", "x")   // rev 2
			f.mustPut("k", "cur") // rev 3, version 2
			if !c.ok {
				resp := f.applyUnchanged(put("k", "new", withCond(c.cond)), kvpb.ErrorCode_CONDITION_FAILED)
				if r := resp.GetResults(); len(r) != 1 || r[0].GetCode() != kvpb.ErrorCode_CONDITION_FAILED {
					t.Fatalf("results %v", r)
				}
				return
			}
			v := f.mustPut("k", "new", withCond(c.cond))
			wantValue(t, v, &kvpb.Value{CreateRevision: 1, ModRevision: 4, Version: 3})
		})
	}
}

func TestConditionsOnAbsentKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("other", "x")
	for _, c := range []*kvpb.Condition{
		{MustExist: true}, {Value: []byte{}}, {Version: u64(1)}, {ModRevision: u64(1)},
	} {
		f.applyUnchanged(put("k", "v", withCond(c)), kvpb.ErrorCode_CONDITION_FAILED)
		f.applyUnchanged(del("k", c), kvpb.ErrorCode_CONDITION_FAILED)
	}
	v := f.mustPut("k", "v", withCond(&kvpb.Condition{MustNotExist: true}))
	if v.GetVersion() != 1 {
		t.Fatalf("create-if-absent %v", v)
	}
	f.applyUnchanged(put("k", "again", withCond(&kvpb.Condition{MustNotExist: true})), kvpb.ErrorCode_CONDITION_FAILED)
	if got := f.get("k"); string(got.GetValue()) != "v" {
		t.Fatalf("create-if-absent overwrote: %v", got)
	}
}

func TestConditionalDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v") // rev 1
	f.applyUnchanged(del("k", &kvpb.Condition{Value: []byte("w")}), kvpb.ErrorCode_CONDITION_FAILED)
	f.applyUnchanged(del("k", &kvpb.Condition{Version: u64(2)}), kvpb.ErrorCode_CONDITION_FAILED)
	f.applyUnchanged(del("k", &kvpb.Condition{ModRevision: u64(9)}), kvpb.ErrorCode_CONDITION_FAILED)
	f.applyUnchanged(del("k", &kvpb.Condition{MustNotExist: true}), kvpb.ErrorCode_CONDITION_FAILED)
	resp := f.apply(del("k", &kvpb.Condition{Value: []byte("v"), Version: u64(1), ModRevision: u64(1), MustExist: true}))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	if f.s.len() != 0 {
		t.Fatalf("store still holds %d keys", f.s.len())
	}
}

// An expected empty value survives the wire: proto3 optional keeps the
// difference between "expect empty" and "no expectation".
func TestEmptyExpectedValueSurvivesEncoding(t *testing.T) {
	t.Parallel()
	req := put("k", "new", withCond(&kvpb.Condition{Value: []byte{}}))
	back := roundTrip(t, req)
	if back.GetPut().GetCondition().Value == nil {
		t.Fatal("empty expected value lost its presence on the wire")
	}
	f := newFixture(t)
	f.mustPut("k", "")
	resp := f.apply(back)
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	unset := roundTrip(t, put("k", "x", withCond(&kvpb.Condition{})))
	if unset.GetPut().GetCondition().Value != nil {
		t.Fatal("unset expected value became present")
	}
}

func TestReadThroughLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v")
	before := f.s.dump()
	resp := f.apply(&kvpb.Request{Op: &kvpb.Request_Read{Read: getReq("k")}})
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	if got := resp.GetRead().GetResults()[0].GetValue().GetValue(); string(got) != "v" {
		t.Fatalf("read through log got %q", got)
	}
	resp = f.apply(&kvpb.Request{Op: &kvpb.Request_Read{Read: getReq("missing")}})
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_NOT_FOUND, resp.GetMessage())
	if !bytes.Equal(before, f.s.dump()) {
		t.Fatal("a read changed the store")
	}
}

// Results never alias the store's buffers: the store may reuse them.
func TestReadResultsAreCopies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "value")
	got := f.get("k")
	ekey := ekeyOf(f.m, "k")
	raw := f.s.vals[string(ekey)]
	for i := range raw {
		raw[i] = 'X'
	}
	if string(got.GetValue()) != "value" {
		t.Fatalf("result aliases the store: %q", got.GetValue())
	}
}
