package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/api/adminpb"
	"github.com/concord-kv/concord/internal/await"
)

// testRouting checks that after warm-up the client sends every request to
// its range's leader, and that it keeps working, and routes to the new
// leaders, once the leader of a key's range has left the cluster.
func testRouting(t *testing.T, c *testCluster, cl *Client) {
	ctx := testCtx(t)
	var keys [][]byte
	for i := range 30 {
		k := fmt.Appendf(nil, "routing/%d", i)
		if _, err := cl.Put(ctx, k, k); err != nil {
			t.Fatalf("put: %v", err)
		}
		keys = append(keys, k)
	}
	allLocal := func() error {
		before := cl.Stats()
		for _, k := range keys {
			kv, err := cl.Get(ctx, k)
			if err != nil {
				return err
			}
			if string(kv.Value) != string(k) {
				return fmt.Errorf("%s = %q", k, kv.Value)
			}
		}
		after := cl.Stats()
		if local := after.ServedLocally - before.ServedLocally; local != uint64(len(keys)) {
			return fmt.Errorf("%d of %d reads served by the leader (%d forwarded)", local, len(keys), after.Forwarded-before.Forwarded)
		}
		return nil
	}
	await.Until(t, 20*time.Second, "every read served by its leader", allLocal)

	// The leader of the first key's range leaves: its leaderships move.
	st, err := c.live()[0].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := leaderOf(st, concord.Position(keys[0], nil, 0))
	victim := -1
	for i, n := range c.nodes {
		if n != nil && n.Name() == leader {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("no live node leads the first key's range (leader %q)", leader)
	}
	// A watch through the client is served by that leader's node; it
	// goes on elsewhere when the node leaves.
	wctx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	events, err := cl.Watch(wctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	c.close(victim)

	var written *concord.KeyValue
	await.Until(t, 30*time.Second, "writes through the client after the leader left", func() error {
		var err error
		written, err = cl.Put(ctx, keys[0], keys[0])
		return err
	})
	for ev := range events {
		if ev.Err != nil {
			t.Fatalf("the watch ended: %v", ev.Err)
		}
		if ev.ModRevision == written.ModRevision {
			break
		}
	}
	await.Until(t, 30*time.Second, "every read served by its new leader", allLocal)
	if s := cl.Stats(); s.Refreshes < 2 {
		t.Fatalf("routing table read %d times", s.Refreshes)
	}
}

// leaderOf names the leader of the range holding pos.
func leaderOf(st *adminpb.StatusResponse, pos uint64) string {
	for _, r := range st.Ranges {
		if (route{start: r.Start, end: r.End}).contains(pos) {
			return r.Leader
		}
	}
	return ""
}

func TestTableLookup(t *testing.T) {
	t.Parallel()
	tab := newTable(&adminpb.RangesResponse{Ranges: []*adminpb.Range{
		{Start: 100, End: 200, LeaderAddress: "b", Replicas: []*adminpb.Replica{{Address: "b"}, {Address: "c"}}},
		{Start: 900, End: 100, LeaderAddress: "a"},
		{Start: 200, End: 900, LeaderAddress: ""},
	}})
	for _, tc := range []struct {
		pos    uint64
		leader string
	}{{0, "a"}, {100, "a"}, {101, "b"}, {200, "b"}, {201, ""}, {900, ""}, {901, "a"}, {^uint64(0), "a"}} {
		r, ok := tab.lookup(tc.pos)
		if !ok || r.leader != tc.leader {
			t.Errorf("lookup(%d) = %+v, %v; want leader %q", tc.pos, r, ok, tc.leader)
		}
	}
	gap := newTable(&adminpb.RangesResponse{Ranges: []*adminpb.Range{{Start: 100, End: 200}}})
	if r, ok := gap.lookup(300); ok {
		t.Errorf("lookup in a gap found %+v", r)
	}
	whole := newTable(&adminpb.RangesResponse{Ranges: []*adminpb.Range{{Start: 7, End: 7, LeaderAddress: "x"}}})
	if r, ok := whole.lookup(3); !ok || r.leader != "x" {
		t.Errorf("whole circle lookup = %+v, %v", r, ok)
	}
	if got := tab.nodes; len(got) != 3 {
		t.Errorf("table nodes %v", got)
	}
}

func TestDecodeError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err       error
		want      error
		fromNode  bool
		neverSent bool
		retryW    bool
		retryR    bool
	}{
		{status.Error(codes.NotFound, "not_found: concord: get: gone"), concord.ErrNotFound, true, false, false, false},
		{status.Error(codes.InvalidArgument, "value_too_large: too big"), concord.ErrValueTooLarge, true, false, false, false},
		{status.Error(codes.Unavailable, "unavailable: no leader"), concord.ErrUnavailable, true, false, true, true},
		{status.Error(codes.Unavailable, "closed: bye"), concord.ErrClosed, true, false, true, true},
		{status.Error(codes.DeadlineExceeded, "timeout: slow"), concord.ErrTimeout, true, false, false, false},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), concord.ErrTimeout, false, false, false, false},
		{status.Error(codes.Unavailable, "connection error: desc = refused"), concord.ErrUnavailable, false, true, true, true},
		{status.Error(codes.Unavailable, "error reading from server: EOF"), concord.ErrUnavailable, false, false, false, true},
		{status.Error(codes.Internal, "something: odd"), concord.ErrInternal, false, false, false, false},
		{status.Error(codes.Internal, "internal: disk"), concord.ErrInternal, true, false, false, false},
		{errors.New("plain"), concord.ErrInternal, false, false, false, false},
		{context.Canceled, context.Canceled, false, false, false, false},
	} {
		d := decodeError("op", tc.err)
		if !errors.Is(d.err, tc.want) || d.fromNode != tc.fromNode || d.neverSent != tc.neverSent {
			t.Errorf("decode(%v) = %+v, want %v (from node %v, never sent %v)", tc.err, d, tc.want, tc.fromNode, tc.neverSent)
		}
		if retryable(d, true) != tc.retryW || retryable(d, false) != tc.retryR {
			t.Errorf("decode(%v): retryable write %v read %v", tc.err, retryable(d, true), retryable(d, false))
		}
	}
}
