package kv

import (
	"fmt"
	"math"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// wrapped is an arc that wraps past zero: (100, max] then [0, 10].
var wrapped = Arc{Start: 100, End: 10}

var (
	inWrapped  = []string{"#0:a", "#5:b", "#10:end", "#101:after-start", fmt.Sprintf("#%d:max", uint64(math.MaxUint64))}
	outWrapped = []string{"#11:past-end", "#50:middle", "#100:start"}
)

func TestRangeMismatchWrappedArc(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.arc = wrapped
	for _, k := range inWrapped {
		f.mustPut(k, "v")
	}
	for _, k := range outWrapped {
		f.applyUnchanged(put(k, "v"), kvpb.ErrorCode_RANGE_MISMATCH)
		f.applyUnchanged(del(k, nil), kvpb.ErrorCode_RANGE_MISMATCH)
		f.applyUnchanged(touch(k, 1), kvpb.ErrorCode_RANGE_MISMATCH)
		resp := f.read(getReq(k))
		wantCode(t, resp.GetCode(), kvpb.ErrorCode_RANGE_MISMATCH, resp.GetMessage())
		resp = f.read(ttlReq(k))
		wantCode(t, resp.GetCode(), kvpb.ErrorCode_RANGE_MISMATCH, resp.GetMessage())
	}
	for _, k := range inWrapped {
		if f.get(k) == nil {
			t.Fatalf("%s missing", k)
		}
	}
}

// One key outside the arc fails the whole command, whichever part of it
// names the key.
func TestRangeMismatchFailsWholeCommand(t *testing.T) {
	t.Parallel()
	out := outWrapped[0]
	in := inWrapped[1]
	cases := map[string]*kvpb.Request{
		"put_many":    putMany(putOp(in, "x"), putOp(out, "x")),
		"delete_many": deleteMany(&kvpb.DeleteRequest{Key: []byte(in)}, &kvpb.DeleteRequest{Key: []byte(out)}),
		"touch_many":  touchMany(&kvpb.TouchRequest{Key: []byte(in), Ttl: 5}, &kvpb.TouchRequest{Key: []byte(out)}),
		"sweep":       sweepReq(&kvpb.SweepItem{Key: []byte(out), ModRevision: 1}),
		"txn compare": txnReq(&kvpb.TxnRequest{
			Compares: []*kvpb.Compare{{Key: []byte(out), Target: kvpb.Compare_EXISTS}},
			ThenOps:  []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Put{Put: putOp(in, "x")}}},
		}),
		"txn else op that would not run": txnReq(&kvpb.TxnRequest{
			ThenOps: []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Put{Put: putOp(in, "x")}}},
			ElseOps: []*kvpb.TxnOp{{Op: &kvpb.TxnOp_Get{Get: &kvpb.GetRequest{Key: []byte(out)}}}},
		}),
		"read through log": {Op: &kvpb.Request_Read{Read: getManyReq(in, out)}},
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.arc = wrapped
			f.mustPut(in, "v")
			resp := f.applyUnchanged(req, kvpb.ErrorCode_RANGE_MISMATCH)
			if len(resp.GetResults()) != 0 {
				t.Fatalf("results %v", resp.GetResults())
			}
		})
	}
	f := newFixture(t)
	f.arc = wrapped
	resp := f.read(getManyReq(in, out))
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_RANGE_MISMATCH, resp.GetMessage())
}

// Expired and scans only see keys inside the arc, even when the engine
// holds other ranges' keys beside them.
func TestArcBoundsScanAndExpired(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, k := range append(append([]string{}, inWrapped...), outWrapped...) {
		f.mustPut(k, "v", withTTL(10))
	}
	f.now += 10
	items, err := f.m.Expired(f.s, wrapped, f.now, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, string(it.GetKey()))
	}
	// Engine order: positions 0, 5, 10, 101, max.
	if fmt.Sprint(got) != fmt.Sprint(inWrapped) {
		t.Fatalf("expired in arc %v, want %v", got, inWrapped)
	}
	f.now -= 10
	f.arc = wrapped
	var scanned []string
	for _, r := range f.read(scanReq(nil, 0, true)).GetResults() {
		scanned = append(scanned, string(r.GetKey()))
	}
	if fmt.Sprint(scanned) != fmt.Sprint(inWrapped) {
		t.Fatalf("scan of arc %v, want %v", scanned, inWrapped)
	}
}
