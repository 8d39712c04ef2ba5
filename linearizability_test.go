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
// and adds a sixth; every key's history is checked with porcupine. A watch
// on the keys of one hash tag, from a node the script never crashes, must
// see every acknowledged write to them once, in revision order, and no
// value that was never written.
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
	defer cancel()
	watchCtx, stopWatch := context.WithTimeout(context.Background(), 5*time.Minute)
	defer stopWatch()
	watched := startWatch(watchCtx, t, c.live()[4].node, nil, WithPrefix([]byte("{t}")))
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
	checkWatched(t, c.live()[0].node, h, watched)
}

// checkWatched reads a watch on the keys of tag {t} until it sees a last
// write made after the history ended, then checks it against the history.
func checkWatched(t *testing.T, n *Node, h *linearize.History, watched <-chan WatchEvent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	await.Until(t, 60*time.Second, "the closing write", func() error {
		_, err := n.Put(ctx, []byte("{t}x"), []byte("closing"))
		return err
	})
	seen := make(map[string]bool)
	lastRev := make(map[string]uint64)
	for {
		ev := nextEvent(t, watched)
		if ev.Err != nil {
			t.Fatalf("watch ended: %v", ev.Err)
		}
		if ev.ModRevision <= lastRev[string(ev.Key)] {
			t.Fatalf("%s: revision %d after %d", ev.Key, ev.ModRevision, lastRev[string(ev.Key)])
		}
		lastRev[string(ev.Key)] = ev.ModRevision
		if ev.Type == EventPut {
			if string(ev.Value) == "closing" {
				break
			}
			seen[string(ev.Key)+"="+string(ev.Value)] = true
		}
	}
	written := make(map[string]bool)
	var missed []string
	h.Each(func(in linearize.Input, out linearize.Output) {
		if in.Key != "{t}x" && in.Key != "{t}y" || (in.Kind != linearize.Put && in.Kind != linearize.CAS) {
			return
		}
		w := in.Key + "=" + in.Value
		written[w] = true
		if out.OK && !seen[w] {
			missed = append(missed, w)
		}
	})
	if len(missed) > 0 {
		t.Fatalf("the watch missed %d acknowledged writes: %v", len(missed), missed)
	}
	for w := range seen {
		if !written[w] {
			t.Fatalf("the watch saw %s, which no client wrote", w)
		}
	}
	t.Logf("the watch saw %d writes to {t}x and {t}y", len(seen))
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
