package rangegroup

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

func TestSingleNodeWriteAndReadAtEveryLevel(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 1, nil)
	c.createRange(1, 0, 0, "n1")
	resp := c.put(1, "k", "v1")
	if resp.Code != kvpb.ErrorCode_OK || resp.Revision == 0 {
		t.Fatalf("put: %v", resp)
	}
	for _, level := range []Consistency{Strong, Leader, Eventual} {
		got, err := c.node("n1").get(1, level, "k")
		if err != nil {
			t.Fatalf("%v read: %v", level, err)
		}
		if v, err := valueOf(got); err != nil || v != "v1" {
			t.Fatalf("%v read = %q, %v; want v1", level, v, err)
		}
	}
	// Bad input is refused before anything is proposed.
	_, err := c.node("n1").currentStore().Write(t.Context(), 1, &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: nil, Value: []byte("x")}}})
	if !errors.Is(err, kv.ErrInvalidKey) {
		t.Fatalf("empty key: err = %v, want ErrInvalidKey", err)
	}
}

func TestThreeReplicasServeEveryReadLevel(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	half := uint64(math.MaxUint64 / 2)
	c.createRange(1, 0, half, "n1", "n2", "n3")
	c.createRange(2, half, 0, "n1", "n2", "n3")
	arcs := map[uint64]kv.Arc{1: {Start: 0, End: half}, 2: {Start: half, End: 0}}
	for id, arc := range arcs {
		for i := range 20 {
			k := keyIn(arc, "k", i)
			c.put(id, k, fmt.Sprintf("v%d", i))
		}
	}
	for id, arc := range arcs {
		k := keyIn(arc, "k", 7)
		for _, nd := range c.nodes {
			// Strong reads work on followers too, through ReadIndex.
			got, err := nd.get(id, Strong, k)
			if err != nil {
				t.Fatalf("strong read of range %d at %s: %v", id, nd.name, err)
			}
			if v, err := valueOf(got); err != nil || v != "v7" {
				t.Fatalf("strong read of range %d at %s = %q, %v", id, nd.name, v, err)
			}
			await.Until(t, 10*time.Second, "eventual read converges", func() error {
				got, err := nd.get(id, Eventual, k)
				if err != nil {
					return err
				}
				if v, err := valueOf(got); err != nil || v != "v7" {
					return fmt.Errorf("eventual read at %s = %q, %v", nd.name, v, err)
				}
				return nil
			})
		}
		// Leader reads are refused on followers, with the leader named.
		ld := c.leader(id)
		for _, nd := range c.nodes {
			if nd == ld {
				continue
			}
			_, err := nd.get(id, Leader, k)
			var nle *NotLeaderError
			if !errors.As(err, &nle) {
				t.Fatalf("leader read at follower %s: err = %v, want NotLeaderError", nd.name, err)
			}
		}
	}
	// A key outside the range is refused with the range's descriptor.
	k := keyIn(arcs[2], "other", 0)
	_, err := c.leader(1).currentStore().Write(t.Context(), 1, &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(k), Value: []byte("x")}}})
	var rme *RangeMismatchError
	if !errors.As(err, &rme) || !errors.Is(err, kv.ErrRangeMismatch) || rme.Descriptor.GetRangeId() != 1 {
		t.Fatalf("write outside the range: err = %v, want RangeMismatchError for range 1", err)
	}
}

// Concurrent strong reads share ReadIndex rounds rather than paying one
// each.
func TestStrongReadsShareReadIndexRounds(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	c.put(1, "k", "v")
	ld := c.leader(1)
	st := ld.currentStore()
	before := testutil.ToFloat64(st.metrics.readIndex)
	const readers = 64
	// Hold the range's worker at the door (prepare takes the inbox lock
	// first) until every read is queued, so that sharing does not depend
	// on how the goroutines happen to be scheduled.
	r, err := st.replica(1)
	if err != nil {
		t.Fatal(err)
	}
	r.inboxMu.Lock()
	errs := make(chan error, readers)
	for range readers {
		go func() {
			resp, err := ld.get(1, Strong, "k")
			if err == nil {
				_, err = valueOf(resp)
			}
			errs <- err
		}()
	}
	await.Until(t, 10*time.Second, "every read queued", func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := len(r.reads.pending); n < readers {
			return fmt.Errorf("%d reads queued", n)
		}
		return nil
	})
	r.inboxMu.Unlock()
	for range readers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	rounds := testutil.ToFloat64(st.metrics.readIndex) - before
	if rounds < 1 || rounds >= readers {
		t.Fatalf("%d strong reads took %v ReadIndex rounds", readers, rounds)
	}
	if got := testutil.ToFloat64(st.metrics.reads.WithLabelValues("strong")); got < readers {
		t.Fatalf("reads_total{level=strong} = %v, want >= %d", got, readers)
	}
}
