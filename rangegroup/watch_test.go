package rangegroup

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// nextBatch waits for a subscription's next batch, failing the test when
// none comes in time or the subscription ends.
func nextBatch(t *testing.T, sub *Subscription) []Event {
	t.Helper()
	select {
	case b, ok := <-sub.C:
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10s")
	}
	return nil
}

// collect reads events until it has n of them.
func collect(t *testing.T, sub *Subscription, n int) []Event {
	t.Helper()
	var out []Event
	for len(out) < n {
		out = append(out, nextBatch(t, sub)...)
	}
	if len(out) != n {
		t.Fatalf("got %d events, want %d: %+v", len(out), n, out)
	}
	return out
}

// Every replica reports the same changes with the same revisions; a
// follower's subscription sees a leader's writes, deletes and sweeps; a
// subscription from a past revision replays the history first.
func TestWatchEveryReplicaSeesTheSameChanges(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	ld := c.leader(1)
	var subs []*Subscription
	for _, nd := range c.nodes {
		sub, err := nd.currentStore().Watch(WatchSpec{RangeID: 1, Key: []byte("{w}:"), Prefix: true})
		if err != nil {
			t.Fatalf("watch on %s: %v", nd.name, err)
		}
		defer sub.Close()
		subs = append(subs, sub)
	}
	first := c.put(1, "{w}:a", "1")
	c.put(1, "other", "not watched")
	c.put(1, "{w}:b", "2")
	c.write(1, &kvpb.Request{Op: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: []byte("{w}:a")}}})

	var want []Event
	for i, sub := range subs {
		got := collect(t, sub, 3)
		if i == 0 {
			want = got
			continue
		}
		for j := range got {
			if string(got[j].Key) != string(want[j].Key) || got[j].Revision != want[j].Revision || (got[j].Record == nil) != (want[j].Record == nil) {
				t.Fatalf("%s: event %d = %+v, first replica saw %+v", c.nodes[i].name, j, got[j], want[j])
			}
		}
	}
	if string(want[0].Key) != "{w}:a" || want[0].Record == nil || string(want[0].Record.Value) != "1" ||
		want[0].Revision != first.GetRevision() || want[0].Record.Version != 1 {
		t.Fatalf("first event %+v, want the put of {w}:a at revision %d", want[0], first.GetRevision())
	}
	if string(want[2].Key) != "{w}:a" || want[2].Record != nil || want[2].Revision <= want[1].Revision {
		t.Fatalf("third event %+v, want the delete of {w}:a after revision %d", want[2], want[1].Revision)
	}

	// A subscription from the first revision replays all three, then
	// goes on live.
	sub, err := ld.currentStore().Watch(WatchSpec{RangeID: 1, Key: []byte("{w}:b"), From: first.GetRevision()})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if got := collect(t, sub, 1); got[0].Revision != want[1].Revision {
		t.Fatalf("replay of {w}:b = %+v, want revision %d", got, want[1].Revision)
	}
	c.put(1, "{w}:b", "3")
	if got := nextBatch(t, sub); len(got) != 1 || string(got[0].Record.Value) != "3" || got[0].Record.Version != 2 {
		t.Fatalf("live event after replay = %+v", got)
	}

	// Bad subscriptions are refused.
	if _, err := ld.currentStore().Watch(WatchSpec{RangeID: 99, Key: []byte("x")}); !errors.Is(err, ErrRangeNotFound) {
		t.Fatalf("watch of an unknown range: %v", err)
	}
}

// The history's budget evicts old changes, after which a subscription
// from before them fails with ErrCompacted, while one from inside the
// history still replays.
func TestWatchHistoryCompaction(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 1, func(cfg *Config) { cfg.WatchHistoryEvents = 5 })
	c.createRange(1, 0, 0, "n1")
	var revs []uint64
	for i := range 10 {
		revs = append(revs, c.put(1, "k", fmt.Sprint(i)).GetRevision())
	}
	st := c.nodes[0].currentStore()
	if _, err := st.Watch(WatchSpec{RangeID: 1, Key: []byte("k"), From: revs[0]}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("watch from an evicted revision: err = %v, want ErrCompacted", err)
	}
	sub, err := st.Watch(WatchSpec{RangeID: 1, Key: []byte("k"), From: revs[6]})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if got := collect(t, sub, 4); got[0].Revision != revs[6] || got[3].Revision != revs[9] {
		t.Fatalf("replay = %+v, want revisions %d..%d", got, revs[6], revs[9])
	}
}

// A split interrupts the subscriptions of the split range, with a resume
// revision from which the range now holding the key delivers the rest.
func TestWatchResumesAcrossSplit(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	at := uint64(math.MaxUint64 / 2)
	right := kv.Arc{Start: at, End: 0}
	key := keyIn(right, "moving", 0)
	c.put(1, key, "before")
	st := c.leader(1).currentStore()
	sub, err := st.Watch(WatchSpec{RangeID: 1, Key: []byte(key)})
	if err != nil {
		t.Fatal(err)
	}
	c.put(1, key, "still in range 1")
	if got := nextBatch(t, sub); string(got[0].Record.Value) != "still in range 1" {
		t.Fatalf("event before the split = %+v", got)
	}
	newID, err := st.Split(t.Context(), 1, at)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-sub.C:
		if ok {
			t.Fatal("an event after the split on the left range")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the split did not interrupt the subscription")
	}
	if !errors.Is(sub.Err(), ErrWatchInterrupted) {
		t.Fatalf("subscription ended with %v, want ErrWatchInterrupted", sub.Err())
	}
	c.put(newID, key, "in the new range")
	resumed, err := c.leader(newID).currentStore().Watch(WatchSpec{RangeID: newID, Key: []byte(key), From: sub.ResumeFrom()})
	if err != nil {
		t.Fatalf("resume on the new range from %d: %v", sub.ResumeFrom(), err)
	}
	defer resumed.Close()
	if got := nextBatch(t, resumed); string(got[0].Record.Value) != "in the new range" {
		t.Fatalf("event after resuming = %+v", got)
	}
}

// A merge interrupts the absorbed range's subscriptions; resumed on the
// merged range from their resume revision, they see the key's later
// changes, whose revisions keep growing.
func TestWatchResumesAcrossMerge(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	_, rhsID, right := splitForMerge(t, c)
	key := keyIn(right, "watched", 0)
	before := c.put(rhsID, key, "before").GetRevision()
	st := c.leader(1).currentStore()
	sub, err := st.Watch(WatchSpec{RangeID: rhsID, Key: []byte(key)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Merge(t.Context(), 1, rhsID); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-sub.C:
		if ok {
			t.Fatal("an event on the absorbed range")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the merge did not interrupt the subscription")
	}
	if !errors.Is(sub.Err(), ErrWatchInterrupted) || sub.ResumeFrom() <= before {
		t.Fatalf("ended with %v, resume from %d (the last write was %d)", sub.Err(), sub.ResumeFrom(), before)
	}
	resumed, err := st.Watch(WatchSpec{RangeID: 1, Key: []byte(key), From: sub.ResumeFrom()})
	if err != nil {
		t.Fatalf("resume on the merged range from %d: %v", sub.ResumeFrom(), err)
	}
	defer resumed.Close()
	after := c.put(1, key, "after").GetRevision()
	if got := nextBatch(t, resumed); string(got[0].Record.Value) != "after" || got[0].Revision != after || after <= before {
		t.Fatalf("event after resuming = %+v (revisions %d then %d)", got, before, after)
	}
}
