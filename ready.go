package concord

import (
	"context"
	"fmt"

	"github.com/concord-kv/concord/rangegroup"
)

// Ready reports whether this node can serve requests now: nil when it is a
// ring member (created or joined a ring, not left or closed) and every
// range it holds an initialized replica of has a leader reachable through
// a quorum. The error names the first condition that failed (for example
// "range 7: no leader") and wraps ErrUnavailable, or ErrClosed once Close
// has begun, so CodeOf maps it like any other error. It is what a
// readiness probe should call; it sends nothing over the network.
//
// "Reachable through a quorum" rests on Raft's CheckQuorum and PreVote,
// which every range runs with: a leader that has not heard from a quorum
// of voters within an election timeout steps down, and a follower that has
// not heard from its leader within an election timeout starts a pre-vote
// and forgets the leader. So a replica that knows a leader has, within
// about two election timeouts, been in contact with one that a quorum
// follows; a node cut off from the majority turns unready within that
// time, and ready again once it hears from the leader after healing.
//
// Replicas still waiting for their first snapshot hold no data and do not
// count; nor do ranges this node holds no replica of, whose leaders the
// router reaches elsewhere.
func (n *Node) Ready(ctx context.Context) error {
	if n.stopping.Load() {
		return fmt.Errorf("not ready: node is closing: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	rn := n.ringNode.Load()
	if rn == nil || !rn.Ring().IsMember() {
		return fmt.Errorf("not ready: not a ring member: %w", ErrUnavailable)
	}
	for _, info := range n.store.Ranges() {
		if err := rangeReady(info); err != nil {
			return fmt.Errorf("not ready: %w", err)
		}
	}
	return nil
}

// rangeReady checks one replica's view of its range: it leads the range, or
// knows the leader (see Ready for why that means a quorum stands behind it).
func rangeReady(info rangegroup.RangeInfo) error {
	if info.Descriptor == nil || info.IsLeader {
		return nil
	}
	if info.Leader == "" {
		return fmt.Errorf("range %d: no leader (term %d): %w", info.RangeID, info.Term, ErrUnavailable)
	}
	return nil
}
