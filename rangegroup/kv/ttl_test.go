package kv

import (
	"errors"
	"math"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

func TestExpiryExactlyAtNow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := f.mustPut("k", "v", withTTL(100))
	f.now = v.GetExpiresAt() - 1
	if got := f.get("k"); got == nil {
		t.Fatal("key gone one nanosecond before its expiry")
	}
	if r := f.read(ttlReq("k")).GetResults()[0]; r.GetTtl() != 1 {
		t.Fatalf("ttl one nanosecond before expiry = %d", r.GetTtl())
	}
	f.now = v.GetExpiresAt()
	if got := f.get("k"); got != nil {
		t.Fatalf("key visible at exactly its expiry: %v", got)
	}
	wantCode(t, f.read(ttlReq("k")).GetCode(), kvpb.ErrorCode_NOT_FOUND, "")
	resp := f.read(getManyReq("k"))
	wantCode(t, resp.GetResults()[0].GetCode(), kvpb.ErrorCode_NOT_FOUND, "")
}

// An expired key is absent for every op, though its record stays in the
// engine until a sweep removes it.
func TestExpiredKeyIsAbsentToEveryOp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v", withTTL(10)) // rev 1
	f.now += 10

	f.applyUnchanged(touch("k", 100), kvpb.ErrorCode_NOT_FOUND)
	f.applyUnchanged(del("k", nil), kvpb.ErrorCode_NOT_FOUND)
	f.applyUnchanged(put("k", "w", withCond(&kvpb.Condition{MustExist: true})), kvpb.ErrorCode_CONDITION_FAILED)
	f.applyUnchanged(put("k", "w", withCond(&kvpb.Condition{Value: []byte("v")})), kvpb.ErrorCode_CONDITION_FAILED)
	f.applyUnchanged(put("k", "w", withCond(&kvpb.Condition{Version: u64(1)})), kvpb.ErrorCode_CONDITION_FAILED)
	if f.s.len() != 1 {
		t.Fatalf("expired record should stay for the sweep; store has %d keys", f.s.len())
	}
	if got := f.read(scanReq(nil, 0, false)).GetResults(); len(got) != 0 {
		t.Fatalf("scan shows expired key: %v", got)
	}
	resp := f.apply(txnReq(&kvpb.TxnRequest{
		Compares: []*kvpb.Compare{{Key: []byte("k"), Target: kvpb.Compare_NOT_EXISTS}},
		ThenOps:  []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Get{Get: &kvpb.GetRequest{Key: []byte("k")}}}},
	}))
	if !resp.GetSucceeded() || resp.GetResults()[0].GetCode() != kvpb.ErrorCode_NOT_FOUND {
		t.Fatalf("txn sees expired key: %v", resp)
	}

	// must_not_exist holds, and the put recreates the key from scratch.
	rev := f.rev + 1
	v := f.mustPut("k", "new", withCond(&kvpb.Condition{MustNotExist: true}))
	wantValue(t, v, &kvpb.Value{CreateRevision: rev, ModRevision: rev, Version: 1})
}

func TestExpiredKeyRecreatedWithKeepTTLHasNoExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v", withTTL(10))
	f.now += 20
	v := f.mustPut("k", "w", keepTTL)
	if v.GetExpiresAt() != 0 || v.GetVersion() != 1 {
		t.Fatalf("recreated key %v", v)
	}
}

func TestTTLOverflowChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v")
	f.now = math.MaxInt64 - 5
	f.applyUnchanged(put("k", "w", withTTL(10)), kvpb.ErrorCode_INVALID_ARGUMENT)
	f.applyUnchanged(touch("k", 10), kvpb.ErrorCode_INVALID_ARGUMENT)
	resp := f.applyUnchanged(putMany(putOp("a", "1"), putOp("b", "2", withTTL(10))), kvpb.ErrorCode_INVALID_ARGUMENT)
	if resp.GetResults()[0].GetCode() != kvpb.ErrorCode_OK || resp.GetResults()[1].GetCode() != kvpb.ErrorCode_INVALID_ARGUMENT {
		t.Fatalf("per-item outcomes %v", resp.GetResults())
	}
	// A clock before the epoch cannot express an expiry either.
	f.now = -100
	f.applyUnchanged(put("k", "w", withTTL(10)), kvpb.ErrorCode_INVALID_ARGUMENT)
	f.now = math.MaxInt64 - 10
	v := f.mustPut("k", "w", withTTL(10))
	if v.GetExpiresAt() != math.MaxInt64 {
		t.Fatalf("expiry %d", v.GetExpiresAt())
	}
}

func TestExpiredAndSweep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("a", "1", withTTL(10))
	f.mustPut("b", "2", withTTL(10))
	f.mustPut("c", "3", withTTL(1000))
	f.mustPut("d", "4")
	f.now += 10

	items, err := f.m.Expired(f.s, f.arc, f.now, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("expired %v, want a and b", items)
	}
	got := map[string]uint64{}
	for _, it := range items {
		got[string(it.GetKey())] = it.GetModRevision()
	}
	if got["a"] != 1 || got["b"] != 2 {
		t.Fatalf("expired %v", got)
	}

	// Before the sweep commits, b is written again; it must survive.
	f.mustPut("b", "again", withTTL(5))
	f.now += 5 // b has expired again, but with a new mod revision
	resp := f.apply(sweepReq(items...))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	codes := map[string]kvpb.ErrorCode{}
	for i, it := range items {
		codes[string(it.GetKey())] = resp.GetResults()[i].GetCode()
	}
	if codes["a"] != kvpb.ErrorCode_OK || codes["b"] != kvpb.ErrorCode_CONDITION_FAILED {
		t.Fatalf("sweep outcomes %v", codes)
	}
	if _, ok, _ := f.s.Get(ekeyOf(f.m, "a")); ok {
		t.Fatal("swept key still stored")
	}
	if _, ok, _ := f.s.Get(ekeyOf(f.m, "b")); !ok {
		t.Fatal("rewritten key was swept")
	}
	// Sweeping a again finds nothing.
	resp = f.applyUnchanged(sweepReq(&kvpb.SweepItem{Key: []byte("a"), ModRevision: got["a"]}), kvpb.ErrorCode_OK)
	wantCode(t, resp.GetResults()[0].GetCode(), kvpb.ErrorCode_NOT_FOUND, "")
}

func TestSweepSparesKeyNoLongerExpired(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v", withTTL(10)) // rev 1
	f.now += 10
	items, err := f.m.Expired(f.s, f.arc, f.now, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("expired %v, %v", items, err)
	}
	// The sweep carries the right mod revision but is applied at a time
	// when, by the state machine's clock, the key has not expired: nothing
	// is removed.
	f.now -= 5
	resp := f.applyUnchanged(sweepReq(items...), kvpb.ErrorCode_OK)
	wantCode(t, resp.GetResults()[0].GetCode(), kvpb.ErrorCode_CONDITION_FAILED, "")
}

func TestExpiredLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.m.Limits.MaxBatchItems = 3
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		f.mustPut(k, "v", withTTL(1))
	}
	f.now++
	items, err := f.m.Expired(f.s, f.arc, f.now, 2)
	if err != nil || len(items) != 2 {
		t.Fatalf("limit 2: %d items, %v", len(items), err)
	}
	items, err = f.m.Expired(f.s, f.arc, f.now, 100)
	if err != nil || len(items) != 3 {
		t.Fatalf("limit above MaxBatchItems: %d items, %v", len(items), err)
	}
	if _, err := f.m.Expired(f.s, f.arc, f.now, 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("limit 0: %v", err)
	}
	// Expired lists in engine order, so its output is a valid sweep.
	resp := f.apply(sweepReq(items...))
	for _, r := range resp.GetResults() {
		wantCode(t, r.GetCode(), kvpb.ErrorCode_OK, r.GetMessage())
	}
	if f.s.len() != 2 {
		t.Fatalf("%d keys left, want 2", f.s.len())
	}
}
