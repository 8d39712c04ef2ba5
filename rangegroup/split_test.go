package rangegroup

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

func TestSplitCreatesRangeWithoutCopying(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	at := uint64(math.MaxUint64 / 3)
	left, right := kv.Arc{Start: 0, End: at}, kv.Arc{Start: at, End: 0}
	want := map[string]string{}
	for i := range 20 {
		for _, arc := range []kv.Arc{left, right} {
			k := keyIn(arc, "k", i)
			c.put(1, k, "v")
			want[k] = "v"
		}
	}
	before, _ := c.leader(1).currentStore().Range(1)

	// Bad split points change nothing.
	ld := c.leader(1).currentStore()
	if _, err := ld.Split(t.Context(), 1, 0); !errors.Is(err, ErrInvalidSplit) {
		t.Fatalf("split at the range's end: err = %v, want ErrInvalidSplit", err)
	}
	newID, err := ld.Split(t.Context(), 1, at)
	if err != nil {
		t.Fatalf("split: %v", err)
	}
	if newID == 0 || newID == 1 {
		t.Fatalf("new range id %d", newID)
	}
	for _, nd := range c.nodes {
		await.Until(t, 10*time.Second, "every replica applies the split", func() error {
			info, err := nd.currentStore().Range(newID)
			if err != nil {
				return err
			}
			d := info.Descriptor
			if d.Start != at || d.End != 0 || d.Generation <= before.Descriptor.Generation {
				return fmt.Errorf("%s: new range %v", nd.name, d)
			}
			// The new group's log starts past zero, so a replica added
			// later must get a snapshot.
			if info.FirstIndex <= 1 {
				return fmt.Errorf("%s: new range's log starts at %d", nd.name, info.FirstIndex)
			}
			lhs, err := nd.currentStore().Range(1)
			if err != nil {
				return err
			}
			if lhs.Descriptor.End != at || lhs.Descriptor.Generation != d.Generation {
				return fmt.Errorf("%s: left range %v", nd.name, lhs.Descriptor)
			}
			return nil
		})
	}
	// Every key is served by the range that covers it now, with its data.
	for k, v := range want {
		id := uint64(1)
		if right.Contains(testPosition([]byte(k))) {
			id = newID
		}
		c.checkValues(c.nodes[0], id, map[string]string{k: v})
		// The other range refuses the key with its descriptor.
		other := map[uint64]uint64{1: newID, newID: 1}[id]
		_, err := c.leader(other).currentStore().Write(t.Context(), other,
			&kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(k), Value: []byte("x")}}})
		var rme *RangeMismatchError
		if !errors.As(err, &rme) || rme.Descriptor.RangeId != other {
			t.Fatalf("write of %s to range %d: err = %v, want RangeMismatchError", k, other, err)
		}
	}
	// Both halves take writes.
	c.put(1, keyIn(left, "after", 0), "x")
	c.put(newID, keyIn(right, "after", 0), "y")
}
