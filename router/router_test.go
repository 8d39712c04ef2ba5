package router

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestAnyNodeServesAnyKey writes and reads keys of every range through
// every node's router, including a fourth node that holds no replica.
func TestAnyNodeServesAnyKey(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	for _, nd := range c.nodes {
		for i, a := range arcs {
			k := keyIn(a, "via-"+nd.name, i)
			v := fmt.Sprintf("%s@%s", k, nd.name)
			nd.put(t, k, v)
			for _, reader := range c.nodes {
				for _, level := range []rangegroup.Consistency{rangegroup.Strong, rangegroup.Leader} {
					got, err := reader.get(t, level, k)
					if err != nil || got != v {
						t.Fatalf("%s read (%v) of %s written via %s = %q, %v; want %q", reader.name, level, k, nd.name, got, err, v)
					}
				}
				// Eventual reads may lag the write, never invent a value.
				await.Until(t, 10*time.Second, fmt.Sprintf("eventual read of %s via %s", k, reader.name), func() error {
					got, err := reader.get(t, rangegroup.Eventual, k)
					if err != nil {
						return err
					}
					if got != v {
						t.Fatalf("eventual read of %s via %s = %q, want %q", k, reader.name, got, v)
					}
					return nil
				})
			}
		}
	}
	// The node without replicas forwarded everything; the others served
	// some of their own requests locally.
	n4 := c.node("n4")
	if local := count(t, n4.router.metrics.forwards, forwardLocal); local != 0 {
		t.Errorf("n4 served %v attempts locally without a replica", local)
	}
	if remote := count(t, n4.router.metrics.forwards, forwardRemote); remote == 0 {
		t.Error("n4 forwarded nothing")
	}
	if local := count(t, c.node("n1").router.metrics.forwards, forwardLocal); local == 0 {
		t.Error("n1 never used its own Store for a range it leads")
	}
	// n4's cache learned all three ranges with their leaders.
	ds := n4.router.Descriptors()
	if len(ds) != 3 {
		t.Fatalf("n4 caches %d ranges, want 3: %v", len(ds), ds)
	}
	for i, a := range arcs {
		e, ok := n4.router.cache.lookup(a.End)
		if !ok || e.desc.RangeId != uint64(i+1) || e.leader != leadBy[i] {
			t.Errorf("n4's cache for range %d: %v leader %q, want leader %s", i+1, e.desc, e.leader, leadBy[i])
		}
	}
	if got := count(t, n4.router.metrics.requests, "put", outcomeOK); got != 3 {
		t.Errorf("n4 counted %v successful puts, want 3", got)
	}
	var h dto.Metric
	if err := n4.router.metrics.latency.WithLabelValues("put", outcomeOK).(prometheus.Histogram).Write(&h); err != nil {
		t.Fatal(err)
	}
	if got := h.GetHistogram().GetSampleCount(); got != 3 || h.GetHistogram().GetSampleSum() <= 0 {
		t.Errorf("n4 timed %d successful puts (%v s in all), want 3", got, h.GetHistogram().GetSampleSum())
	}
}

// TestSingleKeyOutcomes checks that the state machine's outcomes and
// input errors reach the caller unchanged through a forwarding hop.
func TestSingleKeyOutcomes(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4)
	c.threeRanges()
	n4 := c.node("n4")
	ctx := testCtx(t, 20*time.Second)
	k := keyIn(arcs[1], "cas", 0)
	n4.put(t, k, "one")
	// A failed condition is an outcome, not an error.
	resp, err := n4.router.Write(ctx, &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{
		Key: []byte(k), Value: []byte("two"), Condition: &kvpb.Condition{Value: []byte("nope")}}}})
	if err != nil || resp.GetCode() != kvpb.ErrorCode_CONDITION_FAILED {
		t.Fatalf("conditional put: %v, %v", resp, err)
	}
	rresp, err := n4.router.Read(ctx, rangegroup.Leader, getReq(keyIn(arcs[2], "absent", 0)))
	if err != nil || rresp.GetCode() != kvpb.ErrorCode_NOT_FOUND {
		t.Fatalf("get of a missing key: %v, %v", rresp, err)
	}
	// Bad input is refused before anything is sent.
	if _, err := n4.router.Write(ctx, putReq("", "v")); !errors.Is(err, kv.ErrInvalidKey) {
		t.Fatalf("empty key: err = %v, want ErrInvalidKey", err)
	}
	if _, err := n4.router.Read(ctx, rangegroup.Consistency(42), getReq(k)); !errors.Is(err, kv.ErrInvalidArgument) {
		t.Fatalf("bad level: err = %v, want ErrInvalidArgument", err)
	}
	if got := count(t, n4.router.metrics.requests, "put", outcomeInvalid); got != 1 {
		t.Fatalf("invalid puts counted: %v", got)
	}
	// TTL and touch go through too.
	ttl := int64(time.Hour)
	if resp, err := n4.router.Write(ctx, &kvpb.Request{Op: &kvpb.Request_Touch{Touch: &kvpb.TouchRequest{Key: []byte(k), Ttl: ttl}}}); err != nil || resp.GetCode() != kvpb.ErrorCode_OK {
		t.Fatalf("touch: %v, %v", resp, err)
	}
	rresp, err = n4.router.Read(ctx, rangegroup.Strong, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Ttl{Ttl: &kvpb.TTLRequest{Key: []byte(k)}}})
	if err != nil || len(rresp.GetResults()) != 1 || rresp.GetResults()[0].GetTtl() <= 0 || rresp.GetResults()[0].GetTtl() > ttl {
		t.Fatalf("ttl: %v, %v", rresp, err)
	}
}

// TestRingNamesNodeWithoutReplica: when the ring names a node that holds
// no replica of the range, that node's answer carries what its own cache
// knows, and the caller follows it; when it knows nothing either, the
// caller keeps asking until its deadline and the write is not applied.
func TestRingNamesNodeWithoutReplica(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 5)
	c.threeRanges()
	n4, n5 := c.node("n4"), c.node("n5")
	ringSays := func(node string) {
		c.mu.Lock()
		c.ringSays = node
		c.mu.Unlock()
	}
	ringSays("n4")
	k := keyIn(arcs[2], "lost", 0)

	err := callWithin(t, time.Second, func(ctx context.Context) error {
		_, err := n5.router.Write(ctx, putReq(k, "v"))
		return err
	})
	// The deadline ends the retries between attempts (unavailable) or
	// during one sent to n4 (outcome unknown, though n4 applies nothing).
	if !(errors.Is(err, rangegroup.ErrUnavailable) && errors.Is(err, context.DeadlineExceeded)) && !errors.Is(err, rangegroup.ErrTimeout) {
		t.Fatalf("write with no route: err = %v, want ErrUnavailable or ErrTimeout at the deadline", err)
	}
	if count(t, n5.router.metrics.retries, retryNotFound) == 0 {
		t.Fatal("n5 did not retry after n4 said it holds no replica")
	}

	// n4 learns the range through the real ring, then points n5 at it.
	ringSays("")
	if resp, err := c.node("n1").router.Read(testCtx(t, 10*time.Second), rangegroup.Strong, getReq(k)); err != nil || resp.GetCode() != kvpb.ErrorCode_NOT_FOUND {
		t.Fatalf("read of the key the write with no route was for: %v, %v; want not found", resp.GetCode(), err)
	}
	n4.put(t, k, "v4")
	ringSays("n4")
	n5.put(t, k, "v5")
	if e, ok := n5.router.cache.lookup(testPosition([]byte(k))); !ok || e.desc.RangeId != 3 || e.leader != "n3" {
		t.Fatalf("n5 learned %v (leader %q) from n4's hint, want range 3 led by n3", e.desc, e.leader)
	}
	if got, err := c.node("n1").get(t, rangegroup.Strong, k); err != nil || got != "v5" {
		t.Fatalf("%s = %q, %v", k, got, err)
	}
}
