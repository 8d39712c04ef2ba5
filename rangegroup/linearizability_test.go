package rangegroup

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/internal/linearize"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage/storagepb"
)

// TestLinearizableUnderPartitions runs concurrent clients doing put, get
// (strong and leader), CAS and delete on a few keys of a three-replica
// range while the network partitions and heals, and checks every key's
// history with porcupine. A campaign of seeds; each is reproducible in its
// choices (not in thread interleavings).
func TestLinearizableUnderPartitions(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runLinearizability(t, seed, 3*time.Second)
		})
	}
}

func runLinearizability(t *testing.T, seed uint64, duration time.Duration) {
	c := newTestCluster(t, 3, nil)
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	c.leader(1)
	keys := []string{"a", "b", "c"}
	h := linearize.NewHistory()
	// Faults run for duration; clients go on (healed) until the history
	// holds minOps operations, so that a slow machine gets a checkable
	// history rather than a failure, within a hard bound.
	const minOps = 20
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	hard, cancelHard := context.WithTimeout(context.Background(), duration+60*time.Second)
	defer cancelHard()

	var wg sync.WaitGroup
	for client := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(client)))
			for n := 0; hard.Err() == nil && (ctx.Err() == nil || h.Len() < minOps); n++ {
				c.clientOp(hard, h, client, rng, keys[rng.IntN(len(keys))], fmt.Sprintf("%d-%d", client, n))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 99))
		ips := []string{c.nodes[0].ip, c.nodes[1].ip, c.nodes[2].ip}
		for ctx.Err() == nil {
			// Isolate one node (often the leader), or heal.
			if rng.IntN(2) == 0 {
				i := rng.IntN(3)
				var rest []string
				for j, ip := range ips {
					if j != i {
						rest = append(rest, ip)
					}
				}
				c.net.Partition([]string{ips[i]}, rest)
			} else {
				c.net.HealAll()
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(100+rng.IntN(400)) * time.Millisecond):
			}
		}
		c.net.HealAll()
	}()
	wg.Wait()
	if h.Len() < minOps {
		t.Fatalf("only %d operations completed", h.Len())
	}
	h.Check(t, fmt.Sprintf("rangegroup-seed-%d", seed))
}

// clientOp runs one random operation against a random node and records it.
// It sends to whichever local range of that node holds the key.
// Failures that prove the operation had no effect (not the leader, nothing
// proposed) are not recorded; timeouts of writes are recorded as unknown.
func (c *testCluster) clientOp(ctx context.Context, h *linearize.History, client int, rng *rand.Rand, key, value string) {
	nd := c.nodes[rng.IntN(len(c.nodes))]
	st := nd.currentStore()
	if st == nil {
		return
	}
	info, ok := st.RangeFor(testPosition([]byte(key)))
	if !ok {
		return
	}
	rangeID := info.RangeID
	opCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	call := h.Now()
	switch k := rng.IntN(6); k {
	case 0, 1:
		level := Strong
		if k == 1 {
			level = Leader
		}
		resp, err := st.Read(opCtx, rangeID, level, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: []byte(key)}}})
		if err != nil {
			return
		}
		out := linearize.Output{}
		if resp.Code == kvpb.ErrorCode_OK {
			out.Found, out.Value = true, string(resp.Results[0].Value.Value)
		}
		h.Add(client, linearize.Input{Kind: linearize.Get, Key: key}, call, out)
	case 2, 3:
		in := linearize.Input{Kind: linearize.Put, Key: key, Value: value}
		_, err := st.Write(opCtx, rangeID, &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(key), Value: []byte(value)}}})
		recordWrite(h, client, in, call, err, func() linearize.Output { return linearize.Output{OK: true} })
	case 4:
		exp := fmt.Sprintf("%d-%d", rng.IntN(4), rng.IntN(20))
		in := linearize.Input{Kind: linearize.CAS, Key: key, Value: value, Expected: exp}
		resp, err := st.Write(opCtx, rangeID, &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{
			Key: []byte(key), Value: []byte(value), Condition: &kvpb.Condition{Value: []byte(exp)}}}})
		recordWrite(h, client, in, call, err, func() linearize.Output { return linearize.Output{OK: resp.Code == kvpb.ErrorCode_OK} })
	case 5:
		in := linearize.Input{Kind: linearize.Delete, Key: key}
		resp, err := st.Write(opCtx, rangeID, &kvpb.Request{Op: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: []byte(key)}}})
		recordWrite(h, client, in, call, err, func() linearize.Output { return linearize.Output{OK: resp.Code == kvpb.ErrorCode_OK} })
	}
}

func recordWrite(h *linearize.History, client int, in linearize.Input, call int64, err error, out func() linearize.Output) {
	switch {
	case err == nil:
		h.Add(client, in, call, out())
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrUnavailable), errors.Is(err, kv.ErrRangeMismatch):
		// Refused before anything was proposed, or applied as a no-op
		// because the key had left the range: no effect.
	default:
		h.Add(client, in, call, linearize.Output{Unknown: true})
	}
}

// TestSplitAndMoveUnderLoadIsLinearizable splits a range while clients
// write and read, then moves the new right-hand range from n1..n3 to
// n3..n5 one step at a time (learner, promotion with a removal in one
// joint change), and checks every key's history and final contents.
func TestSplitAndMoveUnderLoadIsLinearizable(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 5, nil)
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	c.leader(1)
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	h := linearize.NewHistory()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for client := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(7, uint64(client)))
			for n := 0; ctx.Err() == nil; n++ {
				c.clientOp(ctx, h, client, rng, keys[rng.IntN(len(keys))], fmt.Sprintf("%d-%d", client, n))
			}
		}()
	}
	// Split between the keys' positions so that both halves get some.
	at := testPosition([]byte("d"))
	var rhs uint64
	await.Until(t, 20*time.Second, "split", func() error {
		ld := c.leader(1).currentStore()
		if ld == nil {
			return errors.New("no leader")
		}
		var err error
		rhs, err = ld.Split(ctx, 1, at)
		return err
	})
	steps := [][]ReplicaChange{
		{{Type: AddLearner, Node: "n4"}},
		{{Type: PromoteLearner, Node: "n4"}, {Type: RemoveReplica, Node: "n1"}},
		{{Type: AddLearner, Node: "n5"}},
		{{Type: PromoteLearner, Node: "n5"}, {Type: RemoveReplica, Node: "n2"}},
	}
	for i, step := range steps {
		await.Until(t, 30*time.Second, fmt.Sprintf("replica change %d", i), func() error {
			ld := c.leader(rhs).currentStore()
			if ld == nil {
				return errors.New("no leader")
			}
			info, err := ld.Range(rhs)
			if err != nil {
				return err
			}
			if applied(info, step) {
				return nil
			}
			opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return ld.ChangeReplicas(opCtx, rhs, step)
		})
		if step[0].Type == AddLearner {
			// Promote only a learner that has caught up.
			learner := c.node(step[0].Node)
			await.Until(t, 30*time.Second, "learner initialized", func() error {
				info, err := learner.currentStore().Range(rhs)
				if err != nil || info.Descriptor == nil {
					return fmt.Errorf("learner %s: %v", learner.name, err)
				}
				return nil
			})
		}
	}
	// Keep the load on for a while after the last move.
	moved := h.Len()
	await.Until(t, 30*time.Second, "operations after the moves", func() error {
		if n := h.Len(); n < moved+200 {
			return fmt.Errorf("%d operations", n)
		}
		return nil
	})
	cancel()
	wg.Wait()
	h.Check(t, "split-and-move")
	info, err := c.leader(rhs).currentStore().Range(rhs)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, rd := range info.Descriptor.Replicas {
		nodes = append(nodes, rd.Node)
	}
	if fmt.Sprint(nodes) != "[n3 n4 n5]" {
		t.Fatalf("right-hand range on %v, want [n3 n4 n5]", nodes)
	}
	// The moved range's replicas agree with each other on every key.
	for _, k := range keys {
		if !arcOf(info.Descriptor).Contains(testPosition([]byte(k))) {
			continue
		}
		resp, err := c.leader(rhs).get(rhs, Strong, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"n3", "n4", "n5"} {
			await.Until(t, 10*time.Second, "replicas converge", func() error {
				got, err := c.node(name).get(rhs, Eventual, k)
				if err != nil {
					return err
				}
				if got.Code != resp.Code || (resp.Code == kvpb.ErrorCode_OK && string(got.Results[0].Value.Value) != string(resp.Results[0].Value.Value)) {
					return fmt.Errorf("%s: %s differs: %v vs %v", name, k, got, resp)
				}
				return nil
			})
		}
	}
}

// applied reports whether a replica change is already reflected in a
// descriptor (a retried change whose first attempt succeeded).
func applied(info RangeInfo, step []ReplicaChange) bool {
	for _, ch := range step {
		id := replicaIDOf(info.Descriptor, ch.Node)
		switch ch.Type {
		case AddLearner:
			if id == 0 {
				return false
			}
		case PromoteLearner:
			if id == 0 || typeOf(info.Descriptor, id) != storagepb.ReplicaType_VOTER {
				return false
			}
		case RemoveReplica:
			if id != 0 {
				return false
			}
		}
	}
	return true
}
