package rangegroup

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv"
)

// quiesceCluster is three nodes with ranges replicated on all of them, one
// key written to each range.
func quiesceCluster(t *testing.T, ranges int) (*testCluster, []kv.Arc) {
	t.Helper()
	// A long election timeout (1 s) keeps a loaded machine's late pings from
	// waking followers in the middle of a measurement.
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.TickInterval, cfg.ElectionTicks = 20*time.Millisecond, 50 })
	step := uint64(math.MaxUint64/uint64(ranges)) + 1
	var arcs []kv.Arc
	for i := range ranges {
		arc := kv.Arc{Start: uint64(i) * step, End: uint64(i+1) * step}
		c.createRange(uint64(i+1), arc.Start, arc.End, "n1", "n2", "n3")
		arcs = append(arcs, arc)
	}
	for i, arc := range arcs {
		c.put(uint64(i+1), keyIn(arc, "k", 0), "v")
	}
	return c, arcs
}

// awaitQuiesced waits until every replica on every running node is
// quiesced.
func awaitQuiesced(t *testing.T, c *testCluster) {
	t.Helper()
	await.Until(t, 20*time.Second, "every replica quiesced", func() error {
		for _, nd := range c.nodes {
			st := nd.currentStore()
			if st == nil {
				continue
			}
			for _, r := range st.replicaList() {
				r.mu.Lock()
				q := r.quiescedLocked()
				r.mu.Unlock()
				if !q {
					return fmt.Errorf("range %d at %s is not quiesced", r.rangeID, nd.name)
				}
			}
		}
		return nil
	})
}

// Idle ranges go quiet: once every replica is quiesced, no Raft message is
// sent however many ticks pass; a write or a follower's strong read wakes
// the range, and it quiesces again afterwards.
func TestIdleRangesQuiesce(t *testing.T) {
	t.Parallel()
	c, arcs := quiesceCluster(t, 8)
	awaitQuiesced(t, c)

	sent := func() (total float64) {
		for _, nd := range c.nodes {
			total += testutil.ToFloat64(nd.currentStore().metrics.messagesSent)
		}
		return total
	}
	st := c.node("n1").currentStore()
	before, from := sent(), st.tickRounds.Load()
	await.Until(t, 10*time.Second, "ten ticks", func() error {
		if n := st.tickRounds.Load() - from; n < 10 {
			return fmt.Errorf("%d ticks", n)
		}
		return nil
	})
	if got := sent() - before; got != 0 {
		t.Fatalf("%v Raft messages sent over ten ticks with every range quiesced", got)
	}

	// A write wakes its range and is applied everywhere.
	k := keyIn(arcs[3], "k", 1)
	c.put(4, k, "woken")
	for _, nd := range c.nodes {
		await.Until(t, 10*time.Second, "the write reaches "+nd.name, func() error {
			resp, err := nd.get(4, Eventual, k)
			if err != nil {
				return err
			}
			if v, err := valueOf(resp); err != nil || v != "woken" {
				return fmt.Errorf("%s: %q, %v", nd.name, v, err)
			}
			return nil
		})
	}
	awaitQuiesced(t, c)

	// A strong read on a follower wakes the range through its leader.
	ld := c.leader(5)
	for _, nd := range c.nodes {
		if nd == ld {
			continue
		}
		resp, err := nd.get(5, Strong, keyIn(arcs[4], "k", 0))
		if err != nil {
			t.Fatalf("strong read on follower %s of a quiesced range: %v", nd.name, err)
		}
		if v, err := valueOf(resp); err != nil || v != "v" {
			t.Fatalf("strong read on follower %s = %q, %v", nd.name, v, err)
		}
		break
	}
	awaitQuiesced(t, c)

	// A leader read finds the quiesced leader's lease lapsed (no replies
	// heard lately) and confirms leadership with a ReadIndex round.
	resp, err := c.leader(6).get(6, Leader, keyIn(arcs[5], "k", 0))
	if err != nil {
		t.Fatalf("leader read of a quiesced range: %v", err)
	}
	if v, err := valueOf(resp); err != nil || v != "v" {
		t.Fatalf("leader read of a quiesced range = %q, %v", v, err)
	}
}

// When the node of a quiesced leader dies, its followers notice the node's
// silence, wake, and elect a new leader that takes writes.
func TestQuiescedFollowersReplaceADeadLeader(t *testing.T) {
	t.Parallel()
	c, arcs := quiesceCluster(t, 2)
	awaitQuiesced(t, c)
	old := c.leader(1)
	old.stop()
	await.Until(t, 20*time.Second, "a new leader for range 1", func() error {
		for _, nd := range c.nodes {
			if nd == old {
				continue
			}
			st := nd.currentStore()
			r, err := st.replica(1)
			if err != nil {
				return err
			}
			r.mu.Lock()
			leads := r.isLeaderLocked()
			r.mu.Unlock()
			if leads {
				return nil
			}
		}
		return fmt.Errorf("no leader among the survivors")
	})
	c.put(1, keyIn(arcs[0], "k", 2), "after")
	old.restart()
	c.checkValues(old, 1, map[string]string{keyIn(arcs[0], "k", 2): "after"})
}
