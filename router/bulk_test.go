package router

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// bulkKeys returns n keys spread round-robin over the three ranges, so
// that every range's part is interleaved with the others in request order.
func bulkKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = keyIn(arcs[i%len(arcs)], prefix, i)
	}
	return keys
}

func getMany(t *testing.T, nd *testNode, level rangegroup.Consistency, keys []string) []*kvpb.Result {
	t.Helper()
	req := &kvpb.GetManyRequest{}
	for _, k := range keys {
		req.Keys = append(req.Keys, []byte(k))
	}
	resp, err := nd.router.Read(testCtx(t, 10*time.Second), level, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_GetMany{GetMany: req}})
	if err != nil {
		t.Fatalf("get_many via %s: %v", nd.name, err)
	}
	if len(resp.GetResults()) != len(keys) {
		t.Fatalf("get_many: %d results for %d keys", len(resp.GetResults()), len(keys))
	}
	return resp.GetResults()
}

func TestBulkAcrossRanges(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n4 := c.node("n4")
	ctx := testCtx(t, 20*time.Second)
	keys := bulkKeys("bulk", 30)

	// put_many: one result per item, in request order.
	puts := &kvpb.PutManyRequest{}
	for i, k := range keys {
		puts.Items = append(puts.Items, &kvpb.PutRequest{Key: []byte(k), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	resp, err := n4.router.Write(ctx, &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: puts}})
	if err != nil || resp.GetCode() != kvpb.ErrorCode_OK || len(resp.GetResults()) != len(keys) {
		t.Fatalf("put_many: %v, %v", resp, err)
	}
	for i, res := range resp.GetResults() {
		if res.GetCode() != kvpb.ErrorCode_OK || res.GetValue().GetVersion() != 1 {
			t.Fatalf("put_many item %d: %v", i, res)
		}
	}
	// The three parts ran in three ranges, each with its own revision.
	if resp.GetRevision() != 0 {
		t.Fatalf("put_many across ranges reports revision %d", resp.GetRevision())
	}
	for i, res := range getMany(t, n4, rangegroup.Strong, keys) {
		if string(res.GetValue().GetValue()) != fmt.Sprintf("v%d", i) {
			t.Fatalf("get_many item %d (%s) = %v", i, keys[i], res)
		}
	}

	// delete_many with a missing key in the middle: reported per item,
	// the others are deleted.
	missing := keyIn(arcs[1], "never-written", 0)
	dels := &kvpb.DeleteManyRequest{}
	delKeys := append(append(append([]string{}, keys[:5]...), missing), keys[5:10]...)
	for _, k := range delKeys {
		dels.Items = append(dels.Items, &kvpb.DeleteRequest{Key: []byte(k)})
	}
	resp, err = n4.router.Write(ctx, &kvpb.Request{Op: &kvpb.Request_DeleteMany{DeleteMany: dels}})
	if err != nil || resp.GetCode() != kvpb.ErrorCode_OK {
		t.Fatalf("delete_many: %v, %v", resp, err)
	}
	for i, res := range resp.GetResults() {
		want := kvpb.ErrorCode_OK
		if delKeys[i] == missing {
			want = kvpb.ErrorCode_NOT_FOUND
		}
		if res.GetCode() != want {
			t.Fatalf("delete_many item %d (%s): %v, want %v", i, delKeys[i], res.GetCode(), want)
		}
	}
	for i, res := range getMany(t, c.node("n2"), rangegroup.Leader, keys) {
		want := kvpb.ErrorCode_OK
		if i < 10 {
			want = kvpb.ErrorCode_NOT_FOUND
		}
		if res.GetCode() != want {
			t.Fatalf("after delete_many, %s: %v, want %v", keys[i], res.GetCode(), want)
		}
	}

	// A failed condition aborts its range's part only: atomic within a
	// range, per-item results across ranges.
	cond := &kvpb.PutManyRequest{}
	for i, k := range keys[10:16] {
		p := &kvpb.PutRequest{Key: []byte(k), Value: []byte("new")}
		if i == 4 { // keys[14], in range 3 (14 % 3 == 2)
			p.Condition = &kvpb.Condition{MustNotExist: true}
		}
		cond.Items = append(cond.Items, p)
	}
	resp, err = n4.router.Write(ctx, &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: cond}})
	if err != nil {
		t.Fatalf("conditional put_many: %v", err)
	}
	if resp.GetCode() != kvpb.ErrorCode_CONDITION_FAILED || resp.GetMessage() == "" || resp.GetResults()[4].GetCode() != kvpb.ErrorCode_CONDITION_FAILED {
		t.Fatalf("conditional put_many: code %v message %q item 4 %v", resp.GetCode(), resp.GetMessage(), resp.GetResults()[4])
	}
	if want := "item 4: "; len(resp.GetMessage()) < len(want) || resp.GetMessage()[:len(want)] != want {
		t.Fatalf("message %q does not name the request's item 4", resp.GetMessage())
	}
	for i, res := range getMany(t, n4, rangegroup.Strong, keys[10:16]) {
		k := keys[10+i]
		inAborted := (10+i)%3 == 2
		got := string(res.GetValue().GetValue())
		if inAborted && got == "new" || !inAborted && got != "new" {
			t.Fatalf("%s (range %d) = %q after a put_many aborted in range 3", k, (10+i)%3+1, got)
		}
	}

	// touch_many through another node.
	touches := &kvpb.TouchManyRequest{}
	for _, k := range keys[20:] {
		touches.Items = append(touches.Items, &kvpb.TouchRequest{Key: []byte(k), Ttl: int64(time.Hour)})
	}
	resp, err = c.node("n3").router.Write(ctx, &kvpb.Request{Op: &kvpb.Request_TouchMany{TouchMany: touches}})
	if err != nil || resp.GetCode() != kvpb.ErrorCode_OK {
		t.Fatalf("touch_many: %v, %v", resp, err)
	}
	for i, res := range getMany(t, n4, rangegroup.Strong, keys[20:]) {
		if res.GetValue().GetExpiresAt() == 0 {
			t.Fatalf("%s has no expiry after touch_many", keys[20+i])
		}
	}

	// Bad input anywhere changes nothing anywhere.
	bad := &kvpb.PutManyRequest{Items: []*kvpb.PutRequest{{Key: []byte(keys[25]), Value: []byte("bad")}, {Key: nil, Value: []byte("x")}}}
	if _, err := n4.router.Write(ctx, &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: bad}}); !errors.Is(err, kv.ErrInvalidKey) {
		t.Fatalf("put_many with an empty key: err = %v", err)
	}
	if res := getMany(t, n4, rangegroup.Strong, keys[25:26]); string(res[0].GetValue().GetValue()) == "bad" {
		t.Fatal("an invalid put_many wrote one of its items")
	}
}

// TestBulkWithColdCacheResplits: a router that knows no range sends the
// whole request by its first key and splits it as mismatches teach it the
// ranges.
func TestBulkWithColdCacheResplits(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n4 := c.node("n4")
	keys := bulkKeys("cold", 12)
	puts := &kvpb.PutManyRequest{}
	for _, k := range keys {
		puts.Items = append(puts.Items, &kvpb.PutRequest{Key: []byte(k), Value: []byte(k)})
	}
	resp, err := n4.router.Write(testCtx(t, 20*time.Second), &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: puts}})
	if err != nil || resp.GetCode() != kvpb.ErrorCode_OK {
		t.Fatalf("put_many: %v, %v", resp, err)
	}
	if got := count(t, n4.router.metrics.retries, retryMismatch); got != 0 {
		t.Fatalf("%v mismatch retries: a bulk part spanning ranges should be re-split, not retried", got)
	}
	if got := count(t, n4.router.metrics.retries, retryResplit); got == 0 {
		t.Fatal("no part was re-split, yet the cache was cold")
	}
	if len(n4.router.Descriptors()) != 3 {
		t.Fatalf("n4 learned %d ranges", len(n4.router.Descriptors()))
	}
	for i, res := range getMany(t, c.node("n1"), rangegroup.Eventual, keys) {
		if res.GetCode() != kvpb.ErrorCode_OK && res.GetCode() != kvpb.ErrorCode_NOT_FOUND {
			t.Fatalf("eventual get_many item %d: %v", i, res)
		}
	}
	for i, res := range getMany(t, c.node("n1"), rangegroup.Strong, keys) {
		if string(res.GetValue().GetValue()) != keys[i] {
			t.Fatalf("get_many item %d: %v", i, res)
		}
	}
}

// TestLargeForwardedWrite: a write larger than gRPC's default message
// limit (4 MiB) is forwarded whole, and read back through the hop. The
// range has one replica: this is about the hop, not about replicating
// large entries.
func TestLargeForwardedWrite(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 2)
	c.createRange(1, 0, 0, "n1")
	c.leader(1)
	n2 := c.node("n2")
	value := bytes.Repeat([]byte("x"), 900<<10)
	puts := &kvpb.PutManyRequest{}
	var keys []string
	for i := range 6 {
		k := fmt.Sprintf("big-%d", i)
		keys = append(keys, k)
		puts.Items = append(puts.Items, &kvpb.PutRequest{Key: []byte(k), Value: value})
	}
	resp, err := n2.router.Write(testCtx(t, 20*time.Second), &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: puts}})
	if err != nil || resp.GetCode() != kvpb.ErrorCode_OK {
		t.Fatalf("5.4 MiB put_many: %v", err)
	}
	for i, res := range getMany(t, n2, rangegroup.Strong, keys) {
		if !bytes.Equal(res.GetValue().GetValue(), value) {
			t.Fatalf("item %d: %d bytes back", i, len(res.GetValue().GetValue()))
		}
	}
	if got := count(t, n2.router.metrics.forwards, forwardLocal); got != 0 {
		t.Fatalf("n2 served %v attempts itself without a replica", got)
	}
}
