package concord

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
)

// TestLinearizableThroughChurn runs clients doing put, strong get, CAS and
// delete through random nodes of a five-node cluster while a script
// partitions nodes, crashes one and restarts it within the grace period,
// and adds a sixth; every key's history is checked with porcupine.
func TestLinearizableThroughChurn(t *testing.T) {
	t.Parallel()
	c := newKVCluster(t)
	for range 5 {
		c.add()
	}
	await.Until(t, 60*time.Second, "placement", c.placementError)
	keys := []string{"a", "b", "c", "{t}x", "{t}y"}
	h := linearize.NewHistory()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for client := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(11, uint64(client)))
			for n := 0; ctx.Err() == nil; n++ {
				c.clientOp(h, client, rng, keys[rng.IntN(len(keys))], fmt.Sprintf("%d-%d", client, n))
			}
		}()
	}
	nodes := c.live()
	ips := func(ns []*kvNode) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.ip)
		}
		return out
	}
	step := func(what string, f func()) {
		f()
		at := h.Len()
		await.Until(t, 30*time.Second, "operations after "+what, func() error {
			if h.Len() < at+30 {
				return fmt.Errorf("%d operations", h.Len()-at)
			}
			return nil
		})
	}
	step("isolating a node", func() { c.net.Partition(ips(nodes[:1]), ips(nodes[1:])) })
	step("healing", func() { c.net.HealAll() })
	step("a minority/majority split", func() { c.net.Partition(ips(nodes[:2]), ips(nodes[2:])) })
	step("healing", func() { c.net.HealAll() })
	step("a crash", func() { c.crash(nodes[2]) })
	step("a restart", func() { c.restart(nodes[2], []string{nodes[0].ip + ":7946"}) })
	step("a join", func() { c.add() })
	cancel()
	wg.Wait()
	h.Check(t, "concord-churn")
}

// clientOp runs one random operation through a random live node and records
// it; outcomes the client cannot know are recorded as unknown.
func (c *kvCluster) clientOp(h *linearize.History, client int, rng *rand.Rand, key, value string) {
	live := c.live()
	if len(live) == 0 {
		return
	}
	n := live[rng.IntN(len(live))].node
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	k := []byte(key)
	call := h.Now()
	switch rng.IntN(5) {
	case 0, 1:
		kv, err := n.Get(ctx, k, WithConsistency(Strong))
		switch {
		case err == nil:
			h.Add(client, linearize.Input{Kind: linearize.Get, Key: key}, call, linearize.Output{Found: true, Value: string(kv.Value)})
		case errors.Is(err, ErrNotFound):
			h.Add(client, linearize.Input{Kind: linearize.Get, Key: key}, call, linearize.Output{})
		}
	case 2:
		_, err := n.Put(ctx, k, []byte(value))
		h.Add(client, linearize.Input{Kind: linearize.Put, Key: key, Value: value}, call, linearize.Output{OK: err == nil, Unknown: err != nil})
	case 3:
		exp := fmt.Sprintf("%d-%d", rng.IntN(4), rng.IntN(30))
		_, err := n.PutIf(ctx, k, []byte(value), IfValue([]byte(exp)))
		in := linearize.Input{Kind: linearize.CAS, Key: key, Value: value, Expected: exp}
		switch {
		case err == nil:
			h.Add(client, in, call, linearize.Output{OK: true})
		case errors.Is(err, ErrConditionFailed):
			h.Add(client, in, call, linearize.Output{OK: false})
		default:
			h.Add(client, in, call, linearize.Output{Unknown: true})
		}
	case 4:
		err := n.Delete(ctx, k)
		in := linearize.Input{Kind: linearize.Delete, Key: key}
		switch {
		case err == nil:
			h.Add(client, in, call, linearize.Output{OK: true})
		case errors.Is(err, ErrNotFound):
			h.Add(client, in, call, linearize.Output{OK: false})
		default:
			h.Add(client, in, call, linearize.Output{Unknown: true})
		}
	}
}
