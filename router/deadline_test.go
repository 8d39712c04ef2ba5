package router

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// callWithin runs call with a context of deadline d and fails the test if
// it has not returned well after that deadline: a hang, not slowness.
func callWithin(t *testing.T, d time.Duration, call func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- call(ctx) }()
	var err error
	await.Until(t, d+10*time.Second, "the call returns after its deadline", func() error {
		select {
		case err = <-done:
			return nil
		default:
			return errors.New("still running")
		}
	})
	return err
}

func timeoutOrUnavailable(err error) bool {
	return errors.Is(err, rangegroup.ErrTimeout) || errors.Is(err, rangegroup.ErrUnavailable)
}

// TestPartitionedLeaderRespectsDeadline: requests for a range whose
// leader is cut off end with ErrTimeout or ErrUnavailable at the caller's
// deadline; reads then find the new leader, and writes do once the router
// stops counting on the old one.
func TestPartitionedLeaderRespectsDeadline(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n1, n4 := c.node("n1"), c.node("n4")
	k := keyIn(arcs[0], "cut", 0)
	n4.put(t, k, "before")
	n1.put(t, k, "before")

	c.net.Partition([]string{n1.ip}, []string{c.node("n2").ip, c.node("n3").ip, n4.ip})
	for _, nd := range []*testNode{n4, n1} {
		err := callWithin(t, time.Second, func(ctx context.Context) error {
			_, err := nd.router.Write(ctx, putReq(k, "during"))
			return err
		})
		if !timeoutOrUnavailable(err) {
			t.Fatalf("write via %s to a partitioned leader: err = %v, want ErrTimeout or ErrUnavailable", nd.name, err)
		}
		t.Logf("write via %s: %v", nd.name, err)
	}
	err := callWithin(t, time.Second, func(ctx context.Context) error {
		_, err := n1.router.Read(ctx, rangegroup.Strong, getReq(k))
		return err
	})
	if !timeoutOrUnavailable(err) {
		t.Fatalf("strong read on the cut-off side: err = %v, want ErrTimeout or ErrUnavailable", err)
	}

	// A write that timed out makes the router stop counting on the node
	// it sent it to.
	if e, _ := n4.router.cache.lookup(testPosition([]byte(k))); e.leader == "n1" {
		t.Fatal("n4 still believes the cut-off n1 leads after a write to it timed out")
	}

	// The majority side elects a leader; a strong read via a router that
	// still believes in n1 gets there within one call, its attempt at n1
	// bounded by the attempt timeout. The write above cannot have been
	// committed: n1 was alone.
	n4.router.cache.setLeader(1, "n1")
	var got string
	err = callWithin(t, 15*time.Second, func(ctx context.Context) error {
		resp, err := n4.router.Read(ctx, rangegroup.Strong, getReq(k))
		if err == nil {
			got = string(resp.GetResults()[0].GetValue().GetValue())
		}
		return err
	})
	if err != nil || got != "before" {
		t.Fatalf("strong read via n4 during the partition: %q, %v", got, err)
	}
	if count(t, n4.router.metrics.retries, retryAttemptTimeout) == 0 {
		t.Fatal("the read reached the new leader without timing out an attempt at n1")
	}
	await.Until(t, 20*time.Second, "a write via n4 during the partition", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := n4.router.Write(ctx, putReq(k, "after"))
		return err
	})
	c.net.HealAll()
	await.Until(t, 20*time.Second, "n1 reads the majority's write", func() error {
		got, err := n1.get(t, rangegroup.Strong, k)
		if err != nil {
			return err
		}
		if got != "after" {
			t.Fatalf("after healing, %s = %q", k, got)
		}
		return nil
	})
}

// TestBulkPartialFailure: a put_many whose part for one range cannot
// finish returns the other ranges' results with a BulkError naming the
// items whose outcome is unknown.
func TestBulkPartialFailure(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n1, n4 := c.node("n1"), c.node("n4")
	keys := bulkKeys("partial", 9)
	puts := &kvpb.PutManyRequest{}
	for _, k := range keys {
		puts.Items = append(puts.Items, &kvpb.PutRequest{Key: []byte(k), Value: []byte("v")})
	}
	req := &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: puts}}
	// Warm n4's cache (and its connection to n1, range 1's leader).
	if _, err := n4.router.Write(testCtx(t, 10*time.Second), req); err != nil {
		t.Fatal(err)
	}
	c.net.Partition([]string{n1.ip}, []string{c.node("n2").ip, c.node("n3").ip, n4.ip})
	var resp *kvpb.Response
	err := callWithin(t, time.Second, func(ctx context.Context) error {
		var err error
		resp, err = n4.router.Write(ctx, req)
		return err
	})
	var be *BulkError
	if !errors.As(err, &be) || !errors.Is(err, rangegroup.ErrTimeout) || resp == nil {
		t.Fatalf("put_many with range 1 cut off: %v, %v; want a partial response and a BulkError", resp, err)
	}
	// Range 1 holds items 0, 3 and 6 (bulkKeys goes round the ranges).
	if want := []int{0, 3, 6}; !slices.Equal(be.Failed, want) {
		t.Fatalf("failed items %v, want %v", be.Failed, want)
	}
	for i, res := range resp.GetResults() {
		want := kvpb.ErrorCode_OK
		if i%3 == 0 {
			want = kvpb.ErrorCode_INTERNAL
		}
		if res.GetCode() != want {
			t.Fatalf("item %d: %v, want %v", i, res, want)
		}
	}
	if got := count(t, n4.router.metrics.requests, "put_many", outcomePartial); got != 1 {
		t.Fatalf("partial put_many counted %v times", got)
	}
}
