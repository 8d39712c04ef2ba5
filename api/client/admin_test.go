package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/api/adminpb"
	"github.com/concord-kv/concord/internal/await"
)

// testAdmin checks the admin RPCs the client and `concord-node ring` and
// `ranges` read, against a stable cluster.
func testAdmin(t *testing.T, c *testCluster, cl *Client) {
	ctx := testCtx(t)
	conn, err := cl.conn(c.nodes[0].Addr())
	if err != nil {
		t.Fatal(err)
	}
	admin := adminpb.NewAdminClient(conn)
	addrs := map[string]string{}
	for _, n := range c.live() {
		addrs[n.Name()] = n.Addr()
	}

	members, err := admin.Members(ctx, &adminpb.MembersRequest{})
	if err != nil || len(members.Members) != len(addrs) {
		t.Fatalf("members: %v, %v", members, err)
	}
	for _, m := range members.Members {
		if addrs[m.Name] != m.Address || m.State != "alive" || m.RingId == 0 {
			t.Fatalf("member %v", m)
		}
	}

	// Stabilization settles successor lists a little after placement.
	await.Until(t, 20*time.Second, "ring report", func() error { return ringError(ctx, admin, addrs) })

	ranges, err := admin.Ranges(ctx, &adminpb.RangesRequest{})
	if err != nil || len(ranges.Ranges) < len(addrs) || len(ranges.Unreachable) > 0 {
		t.Fatalf("ranges: %v, %v", ranges, err)
	}
	for _, r := range ranges.Ranges {
		if r.LeaderAddress != addrs[r.Leader] || len(r.Replicas) != 3 {
			t.Fatalf("range %v", r)
		}
		for _, rep := range r.Replicas {
			if rep.Address != addrs[rep.Node] {
				t.Fatalf("range %d replica %v", r.RangeId, rep)
			}
		}
	}
	st, err := cl.Status(ctx)
	if err != nil || len(st.Members) != len(addrs) || len(st.Ranges) != len(ranges.Ranges) {
		t.Fatalf("status through the client: %v, %v", st, err)
	}
	local, err := admin.Ranges(ctx, &adminpb.RangesRequest{Local: true})
	if err != nil || len(local.Ranges) == 0 {
		t.Fatalf("local ranges: %v, %v", local, err)
	}
	for _, r := range local.Ranges {
		if r.ReportedBy != c.nodes[0].Name() {
			t.Fatalf("local report by %s", r.ReportedBy)
		}
	}
}

// ringError checks that every node reports itself, a predecessor and the
// two others as successors.
func ringError(ctx context.Context, admin adminpb.AdminClient, addrs map[string]string) error {
	ring, err := admin.Ring(ctx, &adminpb.RingRequest{})
	if err != nil {
		return err
	}
	if len(ring.Nodes) != len(addrs) {
		return fmt.Errorf("%d ring nodes", len(ring.Nodes))
	}
	for i, n := range ring.Nodes {
		next := ring.Nodes[(i+1)%len(ring.Nodes)].Self.GetName()
		prev := ring.Nodes[(i+len(ring.Nodes)-1)%len(ring.Nodes)].Self.GetName()
		if addrs[n.Self.GetName()] != n.Self.GetAddress() || n.Predecessor.GetName() != prev || !n.HasRange || n.RangeEnd != n.Self.GetRingId() {
			return fmt.Errorf("ring node %v", n)
		}
		if len(n.Successors) != len(addrs)-1 || n.Successors[0].GetName() != next {
			return fmt.Errorf("%s successors %v", n.Self.GetName(), n.Successors)
		}
	}
	return nil
}
