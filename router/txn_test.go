package router

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// tagIn returns a hash tag whose position lies in arc.
func tagIn(arc kv.Arc, i int) string {
	for j := 0; ; j++ {
		tag := fmt.Sprintf("user:%d:%d", i, j)
		if arc.Contains(testPosition([]byte(tag))) {
			return tag
		}
	}
}

func txnPut(keys ...string) *kvpb.Request {
	txn := &kvpb.TxnRequest{Compares: []*kvpb.Compare{{Key: []byte(keys[0]), Target: kvpb.Compare_NOT_EXISTS}}}
	for _, k := range keys {
		txn.ThenOps = append(txn.ThenOps, &kvpb.TxnOp{Op: &kvpb.TxnOp_Put{Put: &kvpb.PutRequest{Key: []byte(k), Value: []byte("t")}}})
	}
	return &kvpb.Request{Op: &kvpb.Request_Txn{Txn: txn}}
}

func TestTxnWithinAndAcrossRanges(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n4 := c.node("n4")
	ctx := testCtx(t, 20*time.Second)

	// Keys sharing a tag share a range, whatever else they contain.
	tag := tagIn(arcs[2], 0)
	a, b := "{"+tag+"}:name", "{"+tag+"}:email"
	resp, err := n4.router.Write(ctx, txnPut(a, b))
	if err != nil || !resp.GetSucceeded() || len(resp.GetResults()) != 2 {
		t.Fatalf("txn on a shared tag: %v, %v", resp, err)
	}
	// Run again, the compare fails and the else branch (empty) runs.
	resp, err = n4.router.Write(ctx, txnPut(a, b))
	if err != nil || resp.GetSucceeded() {
		t.Fatalf("second txn: %v, %v", resp, err)
	}
	res := getMany(t, n4, 0, []string{a, b})
	for i, r := range res {
		if string(r.GetValue().GetValue()) != "t" || r.GetValue().GetModRevision() != res[0].GetValue().GetModRevision() {
			t.Fatalf("txn key %d: %v (written in one command, so one revision)", i, r)
		}
	}

	// Keys of two ranges: a clear error, nothing written. Both a cold
	// and a warm cache get it.
	for _, nd := range []*testNode{c.node("n1"), n4} {
		x, y := keyIn(arcs[0], "cross-"+nd.name, 0), keyIn(arcs[1], "cross-"+nd.name, 1)
		_, err = nd.router.Write(ctx, txnPut(x, y))
		if !errors.Is(err, ErrCrossRange) || !errors.Is(err, kv.ErrInvalidArgument) {
			t.Fatalf("txn across ranges via %s: err = %v, want ErrCrossRange", nd.name, err)
		}
		for _, r := range getMany(t, nd, 0, []string{x, y}) {
			if r.GetCode() != kvpb.ErrorCode_NOT_FOUND {
				t.Fatalf("a refused txn wrote: %v", r)
			}
		}
	}
}
