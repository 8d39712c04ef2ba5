package rangegroup

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage/storagepb"
)

// On a range whose only voter leads it, writes are applied ahead of their
// commit and the staged batches are the ones committed; the outcome is
// what applying them in order gives (each key's version counts its puts).
// A replicated range never applies ahead.
func TestApplyAheadOnlyOnSoleVoterRanges(t *testing.T) {
	t.Parallel()
	t.Run("sole voter", func(t *testing.T) {
		t.Parallel()
		c := newTestCluster(t, 1, nil)
		c.createRange(1, 0, 0, "n1")
		st := c.node("n1").currentStore()
		const writers, puts, keys = 16, 25, 20
		var (
			wg     sync.WaitGroup
			counts [keys]atomic.Uint64
		)
		for w := range writers {
			wg.Go(func() {
				for i := range puts {
					k := (w*puts + i) % keys
					if resp := c.put(1, fmt.Sprintf("k%d", k), fmt.Sprint(w, i)); resp.GetCode() != kvpb.ErrorCode_OK {
						t.Errorf("put: %v", resp)
						return
					}
					counts[k].Add(1)
				}
			})
		}
		wg.Wait()
		for k := range keys {
			resp, err := c.node("n1").get(1, Strong, fmt.Sprintf("k%d", k))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := resp.GetResults()[0].GetValue().GetVersion(), counts[k].Load(); got != want {
				t.Errorf("k%d: version %d after %d puts", k, got, want)
			}
		}
		if got := testutil.ToFloat64(st.metrics.stagedApplied); got == 0 {
			t.Error("no batch was applied ahead of its commit")
		}
		if got := testutil.ToFloat64(st.metrics.stagedDropped); got != 0 {
			t.Errorf("%v staged batches dropped with nothing to drop them for", got)
		}
	})
	t.Run("three voters", func(t *testing.T) {
		t.Parallel()
		c := newTestCluster(t, 3, nil)
		c.createRange(1, 0, 0, "n1", "n2", "n3")
		for i := range 10 {
			c.put(1, fmt.Sprintf("k%d", i), "v")
		}
		for _, nd := range c.nodes {
			m := nd.currentStore().metrics
			if got := testutil.ToFloat64(m.stagedApplied) + testutil.ToFloat64(m.stagedDropped); got != 0 {
				t.Errorf("%s applied %v batches ahead on a replicated range", nd.name, got)
			}
		}
	})
}

// A staged batch that does not fit what Raft hands over as committed (here:
// staged on another applied state, for other entries) is dropped, and the
// committed entries are applied as usual.
func TestStagedApplyThatDoesNotFitIsDropped(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 1, nil)
	c.createRange(1, 0, 0, "n1")
	c.put(1, "k", "v1")
	nd := c.node("n1")
	st := nd.currentStore()
	r, err := st.replica(1)
	if err != nil {
		t.Fatal(err)
	}
	b := st.cfg.Engine.NewBatch()
	if err := b.Set([]byte("stale"), []byte("must never be written")); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	stale := proto.Clone(r.state)
	r.staged = &stagedApply{
		ents: []*raftpb.Entry{{Index: proto.Uint64(r.state.Index + 1), Term: proto.Uint64(r.term + 7)}},
		b:    b,
		res:  &applyResult{base: stale.(*storagepb.AppliedState)},
	}
	r.mu.Unlock()

	if resp := c.put(1, "k", "v2"); resp.GetCode() != kvpb.ErrorCode_OK || resp.GetResults()[0].GetValue().GetVersion() != 2 {
		t.Fatalf("put after a stale staged batch: %v", resp)
	}
	if got := testutil.ToFloat64(st.metrics.stagedDropped); got != 1 {
		t.Fatalf("dropped staged batches = %v, want 1", got)
	}
	if _, ok, err := st.cfg.Engine.Get([]byte("stale")); err != nil || ok {
		t.Fatalf("the dropped batch's write is in the engine (found %v, err %v)", ok, err)
	}
	resp, err := nd.get(1, Strong, "k")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := valueOf(resp); err != nil || v != "v2" {
		t.Fatalf("k = %q, %v; want v2", v, err)
	}
}

// A crash while writers run, with batches staged ahead of their commit,
// loses no acknowledged write, and nothing a read saw before the crash is
// missing after it: staged writes become visible only once durable.
func TestApplyAheadCrashLosesNothingAcknowledgedOrSeen(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 1, nil)
	c.createRange(1, 0, 0, "n1")
	c.put(1, "first", "v") // the range has a leader
	nd := c.node("n1")
	st := nd.currentStore()
	const writers = 8
	key := func(w int, i uint64) string { return fmt.Sprintf("w%d-%d", w, i) }
	var (
		acked [writers]atomic.Uint64 // writes of each writer acknowledged
		seenM sync.Mutex
		seen  = map[string]bool{} // keys a read found
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for w := range writers {
		wg.Go(func() {
			for i := uint64(0); ctx.Err() == nil; i++ {
				req := &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(key(w, i)), Value: []byte("v")}}}
				if _, err := st.Write(ctx, 1, req); err != nil {
					return // the crash stopped the store
				}
				acked[w].Store(i + 1)
			}
		})
	}
	// Readers look for each writer's write in flight.
	wg.Go(func() {
		for ctx.Err() == nil {
			for w := range writers {
				k := key(w, acked[w].Load())
				resp, err := st.Read(ctx, 1, Eventual, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: []byte(k)}}})
				if err != nil {
					return
				}
				if resp.GetResults()[0].GetValue() != nil {
					seenM.Lock()
					seen[k] = true
					seenM.Unlock()
				}
			}
		}
	})
	await.Until(t, 20*time.Second, "writes applied ahead", func() error {
		if got := testutil.ToFloat64(st.metrics.stagedApplied); got < 50 {
			return fmt.Errorf("%v staged batches committed", got)
		}
		return nil
	})
	var want []string
	for w := range writers {
		for i := range acked[w].Load() {
			want = append(want, key(w, i))
		}
	}
	seenM.Lock()
	for k := range seen {
		want = append(want, k)
	}
	seenM.Unlock()
	nd.crash()
	cancel()
	wg.Wait()
	nd.restart()
	for _, k := range want {
		var found bool
		await.Until(t, 20*time.Second, "strong read after the restart", func() error {
			resp, err := nd.get(1, Strong, k)
			found = err == nil && resp.GetResults()[0].GetValue() != nil
			return err
		})
		if !found {
			t.Fatalf("%s was acknowledged or seen before the crash and is missing after it", k)
		}
	}
}
