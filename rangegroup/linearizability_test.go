package rangegroup

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/linearize"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
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
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()

	var wg sync.WaitGroup
	for client := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(client)))
			for n := 0; ctx.Err() == nil; n++ {
				c.clientOp(ctx, h, client, rng, keys[rng.IntN(len(keys))], fmt.Sprintf("%d-%d", client, n))
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
	if h.Len() < 20 {
		t.Fatalf("only %d operations completed", h.Len())
	}
	h.Check(t, fmt.Sprintf("rangegroup-seed-%d", seed))
}

// clientOp runs one random operation against a random node and records it.
// Failures that prove the operation had no effect (not the leader, nothing
// proposed) are not recorded; timeouts of writes are recorded as unknown.
func (c *testCluster) clientOp(ctx context.Context, h *linearize.History, client int, rng *rand.Rand, key, value string) {
	nd := c.nodes[rng.IntN(len(c.nodes))]
	st := nd.currentStore()
	if st == nil {
		return
	}
	opCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	call := h.Now()
	switch k := rng.IntN(6); k {
	case 0, 1:
		level := Strong
		if k == 1 {
			level = Leader
		}
		resp, err := st.Read(opCtx, 1, level, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: []byte(key)}}})
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
		_, err := st.Write(opCtx, 1, &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(key), Value: []byte(value)}}})
		recordWrite(h, client, in, call, err, func() linearize.Output { return linearize.Output{OK: true} })
	case 4:
		exp := fmt.Sprintf("%d-%d", rng.IntN(4), rng.IntN(20))
		in := linearize.Input{Kind: linearize.CAS, Key: key, Value: value, Expected: exp}
		resp, err := st.Write(opCtx, 1, &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{
			Key: []byte(key), Value: []byte(value), Condition: &kvpb.Condition{Value: []byte(exp)}}}})
		recordWrite(h, client, in, call, err, func() linearize.Output { return linearize.Output{OK: resp.Code == kvpb.ErrorCode_OK} })
	case 5:
		in := linearize.Input{Kind: linearize.Delete, Key: key}
		resp, err := st.Write(opCtx, 1, &kvpb.Request{Op: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: []byte(key)}}})
		recordWrite(h, client, in, call, err, func() linearize.Output { return linearize.Output{OK: resp.Code == kvpb.ErrorCode_OK} })
	}
}

func recordWrite(h *linearize.History, client int, in linearize.Input, call int64, err error, out func() linearize.Output) {
	switch {
	case err == nil:
		h.Add(client, in, call, out())
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrUnavailable), errors.Is(err, ErrRangeNotFound):
		// Refused before anything was proposed: no effect.
	default:
		h.Add(client, in, call, linearize.Output{Unknown: true})
	}
}
