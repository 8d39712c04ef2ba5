package concord

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
)

// ready asks n whether it is ready, bounded by a short deadline.
func ready(n *Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.Ready(ctx)
}

func TestReadySingleNode(t *testing.T) {
	t.Parallel()
	c := newKVCluster(t)
	c.replicas = 1
	n := c.add()
	await.Until(t, 30*time.Second, "single node ready", func() error { return ready(n.node) })

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.node.Ready(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ready with a cancelled context = %v, want context.Canceled", err)
	}

	node := n.node
	c.leave(n)
	if err := node.Ready(context.Background()); CodeOf(err) != CodeClosed {
		t.Fatalf("Ready after Close = %v (code %s), want code %s", err, CodeOf(err), CodeClosed)
	}
}

func TestReadyFollowsQuorum(t *testing.T) {
	t.Parallel()
	c := newKVCluster(t)
	// Keep replicas where they are while a node is cut off: the test is
	// about leaders and quorums, not re-replication.
	c.grace = time.Minute
	for range 3 {
		c.add()
	}
	await.Until(t, 60*time.Second, "placement", c.placementError)
	nodes := c.live()
	for _, n := range nodes {
		await.Until(t, 30*time.Second, n.name+" ready", func() error { return ready(n.node) })
	}

	// Cut the first node off from the other two: every range has a replica
	// on it, and none of them can reach a quorum any more.
	alone := nodes[0]
	c.net.Partition([]string{alone.ip}, []string{nodes[1].ip, nodes[2].ip})
	var notReady error
	await.Until(t, 30*time.Second, alone.name+" not ready while cut off", func() error {
		if notReady = ready(alone.node); notReady == nil {
			return errors.New("still ready")
		}
		return nil
	})
	if CodeOf(notReady) != CodeUnavailable || !strings.Contains(notReady.Error(), "no leader") {
		t.Fatalf("not-ready error %q (code %s), want code %s naming a range without a leader", notReady, CodeOf(notReady), CodeUnavailable)
	}
	// The majority keeps (or elects) leaders for every range.
	for _, n := range nodes[1:] {
		await.Until(t, 30*time.Second, n.name+" ready in the majority", func() error { return ready(n.node) })
	}

	c.net.HealAll()
	await.Until(t, 30*time.Second, alone.name+" ready after healing", func() error { return ready(alone.node) })
}
