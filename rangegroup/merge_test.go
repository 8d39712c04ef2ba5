package rangegroup

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/rangegroup/rgpb"
)

// splitForMerge creates range 1 over the whole circle on three nodes,
// writes keys on both sides of the split point, splits, and waits until
// one node leads both halves. It returns the keys and the new range's id.
func splitForMerge(t *testing.T, c *testCluster) (want map[string]string, rhsID uint64, right kv.Arc) {
	t.Helper()
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	at := uint64(math.MaxUint64 / 3)
	left, right := kv.Arc{Start: 0, End: at}, kv.Arc{Start: at, End: 0}
	want = map[string]string{}
	for i := range 10 {
		for _, arc := range []kv.Arc{left, right} {
			k := keyIn(arc, "k", i)
			c.put(1, k, "v"+k)
			want[k] = "v" + k
		}
	}
	rhsID, err := c.leader(1).currentStore().Split(t.Context(), 1, at)
	if err != nil {
		t.Fatal(err)
	}
	await.Until(t, 20*time.Second, "one node leads both halves", func() error {
		l, r := c.leader(1), c.leader(rhsID)
		if l != r {
			st := r.currentStore()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = st.TransferLeadership(ctx, rhsID, l.name)
			return fmt.Errorf("range 1 led by %s, range %d by %s", l.name, rhsID, r.name)
		}
		return nil
	})
	return want, rhsID, right
}

// A merge leaves one range over both spans on every replica, with every
// key, the absorbed range gone everywhere, revisions that keep growing, and
// a whole-circle range again; it survives every node crashing at once.
func TestMergeAbsorbsTheRightNeighbour(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	want, rhsID, right := splitForMerge(t, c)
	rhsKey := keyIn(right, "k", 0)
	before := c.put(rhsID, rhsKey, "before merge").GetRevision()
	ld := c.leader(1)
	lhsGen := mustRange(t, ld.currentStore(), 1).Descriptor.Generation
	if err := ld.currentStore().Merge(t.Context(), 1, rhsID); err != nil {
		t.Fatalf("merge: %v", err)
	}
	want[rhsKey] = "before merge"
	checkMerged := func() {
		t.Helper()
		for _, nd := range c.nodes {
			await.Until(t, 20*time.Second, nd.name+" applies the merge", func() error {
				st := nd.currentStore()
				info, err := st.Range(1)
				if err != nil {
					return err
				}
				if d := info.Descriptor; d.Start != d.End || d.Generation <= lhsGen {
					return fmt.Errorf("range 1 is %v", d)
				}
				if _, err := st.Range(rhsID); !errors.Is(err, ErrRangeNotFound) {
					return fmt.Errorf("range %d still there (%v)", rhsID, err)
				}
				return nil
			})
			c.checkValues(nd, 1, want)
		}
	}
	checkMerged()
	after := c.put(1, rhsKey, "after merge").GetRevision()
	if after <= before {
		t.Fatalf("revision of %s went from %d to %d across the merge", rhsKey, before, after)
	}
	want[rhsKey] = "after merge"

	for _, nd := range c.nodes {
		nd.crash()
	}
	for _, nd := range c.nodes {
		nd.restart()
	}
	checkMerged()
}

func mustRange(t *testing.T, st *Store, id uint64) RangeInfo {
	t.Helper()
	info, err := st.Range(id)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// A frozen range refuses writes, splits and replica changes; AbortMerge
// unfreezes it and makes a Merge planned before the abort fail.
func TestAbortMergeUnfreezes(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	_, rhsID, right := splitForMerge(t, c)
	st := c.leader(1).currentStore()
	lhs, rhs := mustRange(t, st, 1), mustRange(t, st, rhsID)
	rr, err := st.replica(rhsID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rr.propose(t.Context(), func(cmd *rgpb.Command) {
		cmd.Op = &rgpb.Command_Freeze{Freeze: &rgpb.Freeze{LhsRangeId: 1, RhsGeneration: rhs.Descriptor.Generation, Voters: rhs.Descriptor.VoterNodes()}}
	})
	if err != nil {
		t.Fatalf("freeze: %v", err)
	}
	put := &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(keyIn(right, "frozen", 0)), Value: []byte("x")}}}
	if _, err := st.Write(t.Context(), rhsID, put); !errors.Is(err, ErrFrozen) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write to a frozen range: %v, want ErrFrozen and ErrUnavailable", err)
	}
	if _, err := st.Split(t.Context(), rhsID, right.Start+1000); !errors.Is(err, ErrFrozen) {
		t.Fatalf("split of a frozen range: %v", err)
	}
	if err := st.ChangeReplicas(t.Context(), rhsID, []ReplicaChange{{Type: RemoveReplica, Node: "n3"}}); !errors.Is(err, ErrFrozen) {
		t.Fatalf("replica change of a frozen range: %v", err)
	}
	if info := mustRange(t, st, rhsID); info.FrozenFor != 1 {
		t.Fatalf("FrozenFor = %d, want 1", info.FrozenFor)
	}

	if err := st.AbortMerge(t.Context(), 1, rhsID); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if _, err := st.Write(t.Context(), rhsID, put); err != nil {
		t.Fatalf("write after the abort: %v", err)
	}
	// The Merge the freeze was for, proposed late, no longer applies.
	fr := res.(*freezeResult)
	lr, _ := st.replica(1)
	_, err = lr.propose(t.Context(), func(cmd *rgpb.Command) {
		cmd.Op = &rgpb.Command_Merge{Merge: &rgpb.Merge{FreezeIndex: fr.index, RhsRevision: fr.revision, LhsGeneration: lhs.Descriptor.Generation, RhsDescriptor: mustMarshal(t, fr.descriptor)}}
	})
	if !errors.Is(err, ErrMergeRejected) {
		t.Fatalf("a merge planned before the abort: %v, want ErrMergeRejected", err)
	}
	if d := mustRange(t, st, 1).Descriptor; d.End != rhs.Descriptor.Start {
		t.Fatalf("range 1 grew to %v", d)
	}
}

// Ranges that are not neighbours with the same voters are refused before
// anything is proposed.
func TestMergeRefusesUnfitRanges(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	c.createRange(1, 0, 100, "n1", "n2", "n3")
	c.createRange(2, 200, 300, "n1", "n2", "n3")
	c.createRange(3, 100, 200, "n1", "n2")
	for _, pair := range [][2]uint64{{1, 2}, {1, 3}} {
		await.Until(t, 20*time.Second, fmt.Sprintf("merge %v refused", pair), func() error {
			for _, id := range pair {
				if ld := c.leader(id); ld.name != "n1" {
					_ = ld.currentStore().TransferLeadership(t.Context(), id, "n1")
					return fmt.Errorf("range %d led by %s", id, ld.name)
				}
			}
			err := c.node("n1").currentStore().Merge(t.Context(), pair[0], pair[1])
			if !errors.Is(err, ErrMergeRejected) {
				return fmt.Errorf("merge %v: %v, want ErrMergeRejected", pair, err)
			}
			return nil
		})
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A replica that crashed after the freeze reached its log, and restarts
// once the other replicas have merged (and deleted the RHS), still
// completes the merge from its own log: its LHS parks the Merge until its
// RHS has applied through the freeze.
func TestMergeCompletesOnANodeThatCrashedAfterTheFreeze(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	want, rhsID, right := splitForMerge(t, c)
	ld := c.leader(1)
	st := ld.currentStore()
	lhs, rhs := mustRange(t, st, 1), mustRange(t, st, rhsID)
	lagger := c.nodes[0]
	for _, nd := range c.nodes {
		if nd != ld {
			lagger = nd
		}
	}
	rr, _ := st.replica(rhsID)
	res, err := rr.propose(t.Context(), func(cmd *rgpb.Command) {
		cmd.Op = &rgpb.Command_Freeze{Freeze: &rgpb.Freeze{LhsRangeId: 1, RhsGeneration: rhs.Descriptor.Generation, Voters: rhs.Descriptor.VoterNodes()}}
	})
	if err != nil {
		t.Fatalf("freeze: %v", err)
	}
	fr := res.(*freezeResult)
	if err := rr.awaitLogs(t.Context(), fr.index); err != nil {
		t.Fatal(err)
	}
	lagger.crash()
	lr, _ := st.replica(1)
	if _, err := lr.propose(t.Context(), func(cmd *rgpb.Command) {
		cmd.Op = &rgpb.Command_Merge{Merge: &rgpb.Merge{FreezeIndex: fr.index, RhsRevision: fr.revision, LhsGeneration: lhs.Descriptor.Generation, RhsDescriptor: mustMarshal(t, fr.descriptor), RhsStamp: fr.stamp}}
	}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	// More writes to the merged range, on both spans, while the lagger
	// is down.
	k := keyIn(right, "later", 0)
	c.put(1, k, "later")
	want[k] = "later"
	lagger.restart()
	await.Until(t, 20*time.Second, lagger.name+" applies the merge", func() error {
		ls := lagger.currentStore()
		if _, err := ls.Range(rhsID); !errors.Is(err, ErrRangeNotFound) {
			return fmt.Errorf("range %d still there (%v)", rhsID, err)
		}
		if d := mustRange(t, ls, 1).Descriptor; d.Start != d.End {
			return fmt.Errorf("range 1 is %v", d)
		}
		return nil
	})
	t.Logf("the lagger parked the merge %v times", testutil.ToFloat64(lagger.currentStore().metrics.mergeParks))
	for k, v := range want {
		await.Until(t, 20*time.Second, "eventual read at the lagger", func() error {
			resp, err := lagger.get(1, Eventual, k)
			if err != nil {
				return err
			}
			got, err := valueOf(resp)
			if err == nil && got != v {
				return fmt.Errorf("%s = %q, want %q", k, got, v)
			}
			return err
		})
	}
}

func TestArcWithin(t *testing.T) {
	t.Parallel()
	arc := func(s, e uint64) kv.Arc { return kv.Arc{Start: s, End: e} }
	for _, c := range []struct {
		inner, outer kv.Arc
		want         bool
	}{
		{arc(200, 300), arc(100, 300), true},
		{arc(100, 200), arc(100, 300), true},
		{arc(100, 300), arc(100, 300), true},
		{arc(50, 300), arc(100, 300), false},
		{arc(200, 400), arc(100, 300), false},
		{arc(300, 100), arc(100, 300), false},          // the other side of the circle
		{arc(10, 20), arc(math.MaxUint64-5, 50), true}, // outer wraps through zero
		{arc(math.MaxUint64-1, 5), arc(math.MaxUint64-5, 50), true},
		{arc(5, 5), arc(100, 300), false}, // a whole circle is within none but a whole circle
		{arc(5, 5), arc(7, 7), true},
		{arc(1, 2), arc(7, 7), true},
	} {
		if got := arcWithin(c.inner, c.outer); got != c.want {
			t.Errorf("arcWithin(%v, %v) = %v, want %v", c.inner, c.outer, got, c.want)
		}
	}
}
