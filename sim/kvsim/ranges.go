package kvsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage/storagepb"
)

// rangeSpec is one range of the cluster: its arc, the nodes holding its
// replicas and the node the clients believe leads it.
type rangeSpec struct {
	id       uint64
	arc      kv.Arc
	replicas []int // node indexes; replica ids are position + 1
	// leader is the index of the node believed to lead the range; clients
	// update it from NotLeader answers.
	leader atomic.Int32
}

// layoutRanges tiles the ring with n equal arcs, range i+1 being
// (i·w, (i+1)·w] and the last one wrapping to 0, and places the replicas
// of range i on nodes i, i+1, ... (mod nodes), so leaders and load spread
// over the nodes.
func layoutRanges(n, replicas, nodes int) []*rangeSpec {
	width := ^uint64(0) / uint64(n)
	out := make([]*rangeSpec, n)
	for i := range out {
		rs := &rangeSpec{id: uint64(i + 1), arc: kv.Arc{Start: width * uint64(i), End: width * uint64(i+1)}}
		if i == n-1 {
			rs.arc.End = 0 // the last arc wraps, so the arcs tile the circle
		}
		for j := range replicas {
			rs.replicas = append(rs.replicas, (i+j)%nodes)
		}
		rs.leader.Store(-1)
		out[i] = rs
	}
	return out
}

// descriptor is the range's initial descriptor, every replica a voter.
func (rs *rangeSpec) descriptor() *storagepb.RangeDescriptor {
	d := &storagepb.RangeDescriptor{RangeId: rs.id, Start: rs.arc.Start, End: rs.arc.End, Generation: 1,
		NextReplicaId: uint64(len(rs.replicas) + 1)}
	for j, i := range rs.replicas {
		d.Replicas = append(d.Replicas, &storagepb.ReplicaDescriptor{Node: nodeName(i), ReplicaId: uint64(j + 1), Type: storagepb.ReplicaType_VOTER})
	}
	return d
}

// rangeOf returns the range whose arc holds pos.
func (c *cluster) rangeOf(pos uint64) *rangeSpec {
	// Arcs are in ring order and all but the last end at their upper
	// bound: the first of them whose end is at or past pos holds it.
	// Position 0 and positions past the last finite end are the last
	// range's, which wraps.
	if pos == 0 {
		return c.ranges[len(c.ranges)-1]
	}
	return c.ranges[sort.Search(len(c.ranges)-1, func(i int) bool { return c.ranges[i].arc.End >= pos })]
}

// leaderOf returns the node believed to lead rs.
func (c *cluster) leaderOf(rs *rangeSpec) *node {
	i := rs.leader.Load()
	if i < 0 {
		i = int32(rs.replicas[0])
	}
	return c.nodes[i]
}

// anyReplica returns a random replica of rs.
func (c *cluster) anyReplica(rs *rangeSpec, rng *rand.Rand) *node {
	return c.nodes[rs.replicas[rng.IntN(len(rs.replicas))]]
}

// learnLeader updates the leader of rs after err from one of its replicas:
// from the leader a NotLeaderError names, else by asking every replica.
func (c *cluster) learnLeader(rs *rangeSpec, err error) {
	var nle *rangegroup.NotLeaderError
	if errors.As(err, &nle) && nle.Leader != "" {
		for _, i := range rs.replicas {
			if nodeName(i) == nle.Leader {
				rs.leader.Store(int32(i))
				return
			}
		}
	}
	c.findLeader(rs)
}

// findLeader asks every replica of rs whether it leads, and reports
// whether one does.
func (c *cluster) findLeader(rs *rangeSpec) bool {
	for _, i := range rs.replicas {
		if info, err := c.nodes[i].store.Range(rs.id); err == nil && info.IsLeader {
			rs.leader.Store(int32(i))
			return true
		}
	}
	return false
}

// waitLeaders waits until every range has a leader.
func (c *cluster) waitLeaders(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, rs := range c.ranges {
		for !c.findLeader(rs) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("kvsim: waiting for a leader of range %d: %w", rs.id, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return nil
}
