package router

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// scanAll pages through the whole circle via nd, limit keys at a time,
// calling between after each page.
func scanAll(t *testing.T, nd *testNode, level rangegroup.Consistency, limit uint32, between func(page int)) []string {
	t.Helper()
	var keys []string
	var after *kvpb.Cursor
	for page := 0; ; page++ {
		resp, err := nd.router.Scan(testCtx(t, 10*time.Second), level, &kvpb.ScanRequest{After: after, Limit: limit, KeysOnly: true})
		if err != nil {
			t.Fatalf("scan page %d via %s: %v", page, nd.name, err)
		}
		if len(resp.GetResults()) > int(limit) {
			t.Fatalf("page %d: %d keys, limit %d", page, len(resp.GetResults()), limit)
		}
		for _, r := range resp.GetResults() {
			if r.GetValue().GetValue() != nil {
				t.Fatalf("keys-only scan returned the value of %s", r.GetKey())
			}
			keys = append(keys, string(r.GetKey()))
		}
		if resp.GetNext() == nil {
			return keys
		}
		after = resp.GetNext()
		if between != nil {
			between(page)
		}
	}
}

// inScanOrder sorts keys by (position, key), the order of a scan.
func inScanOrder(keys []string) []string {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b string) int {
		if c := cmp.Compare(testPosition([]byte(a)), testPosition([]byte(b))); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a), []byte(b))
	})
	return out
}

func TestScanAcrossRanges(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n4 := c.node("n4")
	var want []string
	puts := &kvpb.PutManyRequest{}
	for i := range 40 {
		k := fmt.Sprintf("scan-%d", i)
		want = append(want, k)
		puts.Items = append(puts.Items, &kvpb.PutRequest{Key: []byte(k), Value: []byte("v")})
	}
	if _, err := n4.router.Write(testCtx(t, 10*time.Second), &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: puts}}); err != nil {
		t.Fatal(err)
	}
	want = inScanOrder(want)

	if got := scanAll(t, n4, rangegroup.Strong, 7, nil); !slices.Equal(got, want) {
		t.Fatalf("paged scan:\n got %v\nwant %v", got, want)
	}
	// One page holding everything, with values.
	resp, err := c.node("n2").router.Read(testCtx(t, 10*time.Second), rangegroup.Leader,
		&kvpb.ReadRequest{Op: &kvpb.ReadRequest_Scan{Scan: &kvpb.ScanRequest{}}})
	if err != nil || resp.GetNext() != nil || len(resp.GetResults()) != len(want) {
		t.Fatalf("one-page scan: %d keys, next %v, %v", len(resp.GetResults()), resp.GetNext(), err)
	}
	for i, r := range resp.GetResults() {
		if string(r.GetKey()) != want[i] || string(r.GetValue().GetValue()) != "v" {
			t.Fatalf("one-page scan item %d: %v, want %s", i, r, want[i])
		}
	}
	// A split while paging: cursors stay valid, nothing is lost or
	// repeated.
	got := scanAll(t, n4, rangegroup.Leader, 5, func(page int) {
		if page == 2 {
			mid := arcs[1].Start + (arcs[1].End-arcs[1].Start)/2
			if _, err := c.leader(2).store.Split(testCtx(t, 10*time.Second), 2, mid); err != nil {
				t.Fatalf("split: %v", err)
			}
		}
	})
	if !slices.Equal(got, want) {
		t.Fatalf("scan across a split:\n got %v\nwant %v", got, want)
	}
	await.Until(t, 10*time.Second, "an eventual scan sees every key", func() error {
		if got := scanAll(t, c.node("n3"), rangegroup.Eventual, 500, nil); !slices.Equal(got, want) {
			return fmt.Errorf("got %v", got)
		}
		return nil
	})
}
