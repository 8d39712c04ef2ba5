package rangegroup

import (
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"math"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv"
)

// checkValues asserts that a strong read of every key through nd returns
// its expected value.
func (c *testCluster) checkValues(nd *testNode, rangeID uint64, want map[string]string) {
	c.t.Helper()
	for k, v := range want {
		var got string
		await.Until(c.t, 20*time.Second, fmt.Sprintf("strong read of %s at %s", k, nd.name), func() error {
			resp, err := nd.get(rangeID, Strong, k)
			if err != nil {
				return err
			}
			got, err = valueOf(resp)
			return err
		})
		if got != v {
			c.t.Fatalf("%s at %s = %q, want %q", k, nd.name, got, v)
		}
	}
}

func TestLeaderKillAndRestart(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			t.Parallel()
			c := newTestCluster(t, n, nil)
			var names []string
			for _, nd := range c.nodes {
				names = append(names, nd.name)
			}
			half := uint64(math.MaxUint64 / 2)
			c.createRange(1, 0, half, names...)
			c.createRange(2, half, 0, names...)
			want := map[string]string{}
			for i := range 10 {
				k := keyIn(kv.Arc{Start: 0, End: half}, "before", i)
				c.put(1, k, "v")
				want[k] = "v"
			}
			old := c.leader(1)
			old.crash()
			c.net.Crash(old.ip)
			for i := range 10 {
				k := keyIn(kv.Arc{Start: 0, End: half}, "during", i)
				c.put(1, k, "w")
				want[k] = "w"
			}
			if ld := c.leader(1); ld == old {
				t.Fatal("the crashed node still leads")
			}
			c.net.Restart(old.ip)
			old.restart()
			// The restarted node catches up: its eventual reads see writes
			// made while it was down.
			await.Until(t, 20*time.Second, "restarted node catches up", func() error {
				for k, v := range want {
					resp, err := old.get(1, Eventual, k)
					if err != nil {
						return err
					}
					if got, err := valueOf(resp); err != nil || got != v {
						return fmt.Errorf("%s = %q, %v", k, got, err)
					}
				}
				return nil
			})
			c.checkValues(old, 1, want)
		})
	}
}

func TestLaggingFollowerCatchesUpBySnapshot(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.RaftLogKeep = 10 })
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	ld := c.leader(1)
	var lag *testNode
	for _, nd := range c.nodes {
		if nd != ld {
			lag = nd
			break
		}
	}
	var others []string
	for _, nd := range c.nodes {
		if nd != lag {
			others = append(others, nd.ip)
		}
	}
	c.net.Partition([]string{lag.ip}, others)
	lr, err := lag.currentStore().replica(1)
	if err != nil {
		t.Fatal(err)
	}
	// The laggard's log, not just its applied state, must end before the
	// leader's first index for a snapshot to be needed, and by more than
	// the appends the leader may have had in flight to it (maxInflightMsgs
	// of one write each here), which the transport may still deliver
	// after the partition heals.
	lastIndex := func() uint64 {
		last, err := lr.log.LastIndex()
		if err != nil {
			t.Fatal(err)
		}
		return last
	}
	// Write until the leader's log no longer holds what the laggard needs.
	want := map[string]string{}
	i := 0
	await.Until(t, 20*time.Second, "leader truncates past the laggard", func() error {
		k := fmt.Sprintf("k%d", i)
		c.put(1, k, fmt.Sprint(i))
		want[k] = fmt.Sprint(i)
		i++
		info, err := c.leader(1).currentStore().Range(1)
		if err != nil {
			return err
		}
		if last := lastIndex(); info.FirstIndex <= last+1+maxInflightMsgs {
			return fmt.Errorf("leader's first index %d, laggard's log ends at %d", info.FirstIndex, last)
		}
		return nil
	})
	last, _ := c.leader(1).currentStore().Range(1)
	c.net.HealAll()
	await.Until(t, 20*time.Second, "laggard catches up", func() error {
		info, err := lag.currentStore().Range(1)
		if err != nil {
			return err
		}
		if info.AppliedIndex < last.AppliedIndex {
			return fmt.Errorf("laggard applied %d", info.AppliedIndex)
		}
		return nil
	})
	// The counter moves once the snapshot's sender is answered, just
	// after the data is in.
	await.Until(t, 10*time.Second, "the laggard took a snapshot", func() error {
		if got := testutil.ToFloat64(lag.currentStore().metrics.snapshotsRecv.WithLabelValues("ok")); got < 1 {
			return fmt.Errorf("the laggard received %v snapshots", got)
		}
		return nil
	})
	for k, v := range want {
		resp, err := lag.get(1, Eventual, k)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := valueOf(resp); err != nil || got != v {
			t.Fatalf("laggard: %s = %q, %v; want %q", k, got, err, v)
		}
	}
}

// A crash loses every write Pebble had not synced; acknowledged writes are
// in the synced Raft log and must survive, even when every node crashes at
// once.
func TestCrashOfEveryNodeLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			t.Parallel()
			c := newTestCluster(t, n, nil)
			var names []string
			for _, nd := range c.nodes {
				names = append(names, nd.name)
			}
			c.createRange(1, 0, 0, names...)
			want := map[string]string{}
			for i := range 50 {
				k := fmt.Sprintf("k%d", i)
				c.put(1, k, fmt.Sprint(i))
				want[k] = fmt.Sprint(i)
			}
			for _, nd := range c.nodes {
				nd.crash()
			}
			for _, nd := range c.nodes {
				nd.restart()
			}
			for _, nd := range c.nodes {
				c.checkValues(nd, 1, want)
			}
		})
	}
}

func TestReplicaMovesAndLeadershipTransfer(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 4, nil)
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	want := map[string]string{}
	for i := range 30 {
		k := fmt.Sprintf("k%d", i)
		c.put(1, k, "v")
		want[k] = "v"
	}
	ld := c.leader(1).currentStore()
	ctx := t.Context()
	if err := ld.ChangeReplicas(ctx, 1, []ReplicaChange{{Type: AddLearner, Node: "n4"}}); err != nil {
		t.Fatalf("add learner: %v", err)
	}
	n4 := c.node("n4")
	await.Until(t, 20*time.Second, "learner receives the range", func() error {
		resp, err := n4.get(1, Eventual, "k29")
		if err != nil {
			return err
		}
		_, err = valueOf(resp)
		return err
	})
	// Promote n4 and remove n1 in one joint change.
	ld = c.leader(1).currentStore()
	err := ld.ChangeReplicas(ctx, 1, []ReplicaChange{{Type: PromoteLearner, Node: "n4"}, {Type: RemoveReplica, Node: "n1"}})
	if err != nil {
		t.Fatalf("promote and remove: %v", err)
	}
	await.Until(t, 20*time.Second, "n1 deletes its replica", func() error {
		if _, err := c.node("n1").currentStore().Range(1); !errors.Is(err, ErrRangeNotFound) {
			return fmt.Errorf("n1 still has range 1: %v", err)
		}
		found := false
		err := c.node("n1").engine.Iterate([]byte{0x03}, []byte{0x04}, func(k, v []byte) bool {
			found = true
			return false
		})
		if err != nil {
			return err
		}
		if found {
			return errors.New("n1 still holds user data")
		}
		return nil
	})
	// The leader may apply its own removal, and delete its replica, before
	// n4 has heard that the change committed: n4 applies it once the
	// remaining voters have a leader again.
	await.Until(t, 20*time.Second, "n4 applies the change", func() error {
		info, err := n4.currentStore().Range(1)
		if err != nil {
			return err
		}
		if len(info.Descriptor.Replicas) != 3 || replicaIDOf(info.Descriptor, "n1") != 0 || typeOf(info.Descriptor, replicaIDOf(info.Descriptor, "n4")) != 0 {
			return fmt.Errorf("descriptor after the change: %v", info.Descriptor)
		}
		return nil
	})
	// Hand leadership to n4.
	await.Until(t, 20*time.Second, "leadership moves to n4", func() error {
		ld := c.leader(1)
		if ld.name == "n4" {
			return nil
		}
		return ld.currentStore().TransferLeadership(ctx, 1, "n4")
	})
	for _, name := range []string{"n2", "n3", "n4"} {
		c.checkValues(c.node(name), 1, want)
	}
}

// A replica removed while its node was down never learns of its removal;
// when the range adds the node back (a new replica id), the old
// incarnation is discarded and the new one catches up by snapshot.
func TestRemovedReplicaReAddedWhileDown(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	n3 := c.node("n3")
	c.put(1, "before", "v")
	n3.crash()
	c.net.Crash(n3.ip)
	change := func(ch ReplicaChange) {
		await.Until(t, 20*time.Second, fmt.Sprintf("change %v", ch), func() error {
			return c.leader(1).currentStore().ChangeReplicas(t.Context(), 1, []ReplicaChange{ch})
		})
	}
	change(ReplicaChange{Type: RemoveReplica, Node: "n3"})
	c.put(1, "while-removed", "w")
	change(ReplicaChange{Type: AddLearner, Node: "n3"})
	c.net.Restart(n3.ip)
	n3.restart()
	if info, err := n3.currentStore().Range(1); err != nil || info.ReplicaID != 3 {
		t.Fatalf("n3 restarted without its old replica: %+v, %v", info, err)
	}
	await.Until(t, 30*time.Second, "n3's new incarnation catches up", func() error {
		info, err := n3.currentStore().Range(1)
		if err != nil {
			return err
		}
		if info.ReplicaID <= 3 {
			return fmt.Errorf("n3 still runs replica %d", info.ReplicaID)
		}
		resp, err := n3.get(1, Eventual, "while-removed")
		if err != nil {
			return err
		}
		_, err = valueOf(resp)
		return err
	})
}

// A replica change proposed while an earlier one is not applied yet is
// refused at once, as retryable unavailability, rather than left waiting
// for an answer: Raft drops it silently.
func TestReplicaChangeWhileAnotherIsPendingIsRefused(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 1, nil)
	c.createRange(1, 0, 0, "n1")
	c.put(1, "k", "v")
	st := c.node("n1").currentStore()
	r, err := st.lockLeader(1)
	if err != nil {
		t.Fatal(err)
	}
	// Under the replica's lock the worker cannot apply the first change,
	// so it is still pending when the second is proposed.
	var refused error
	for i, node := range []string{"n8", "n9"} {
		cc, err := buildConfChange(r.descriptorLocked(), []ReplicaChange{{Type: AddLearner, Node: node}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = r.proposeConfChangeLocked(cc)
		if i == 0 && err != nil {
			t.Fatalf("first change: %v", err)
		}
		refused = err
	}
	r.mu.Unlock()
	if !errors.Is(refused, errConfChangePending) {
		t.Fatalf("second change while the first is pending: err = %v, want errConfChangePending", refused)
	}
	// Through the public call the refusal reads as unavailability, which
	// callers retry; once the first change is applied, the next is taken.
	await.Until(t, 20*time.Second, "a replica change after the pending one", func() error {
		return st.ChangeReplicas(t.Context(), 1, []ReplicaChange{{Type: RemoveReplica, Node: "n8"}})
	})
}
