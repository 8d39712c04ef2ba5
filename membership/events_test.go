package membership

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
)

func TestEventQueueKeepsOrderAndCloses(t *testing.T) {
	t.Parallel()
	q := newEventQueue()
	const n = 1000
	for i := range n {
		q.push(Event{Kind: Updated, Member: Member{Name: strconv.Itoa(i)}})
	}
	for i := range n {
		e := <-q.out
		if e.Member.Name != strconv.Itoa(i) {
			t.Fatalf("event %d is %q", i, e.Member.Name)
		}
	}
	q.push(Event{Kind: Joined})
	q.close()
	q.close()
	q.push(Event{Kind: Left}) // no-op after close
	for e := range q.out {
		if e.Kind == Left {
			t.Fatalf("event delivered after close: %+v", e)
		}
	}
}

// A node whose Events are never read while much happens still converges
// (delivery never blocks memberlist), and then receives everything queued,
// in order.
func TestUndrainedEventsDoNotStallGossip(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 6)
	slow := c.start("slow", hostIP(9), false, nil)
	var writers []*testNode
	for i := 1; i <= 3; i++ {
		w := c.start(fmt.Sprintf("w%d", i), hostIP(i), true, nil)
		if _, err := w.m.Join(ctx, slow.addr); err != nil {
			t.Fatalf("Join: %v", err)
		}
		writers = append(writers, w)
	}
	all := append([]*testNode{slow}, writers...)
	waitConverged(ctx, t, all, all)

	const updates = 15
	var wg sync.WaitGroup
	errs := make(chan error, len(writers))
	for _, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := 1; v <= updates; v++ {
				if err := w.m.UpdateMeta(ctx, map[string]string{"v": strconv.Itoa(v)}); err != nil {
					errs <- fmt.Errorf("%s UpdateMeta %d: %w", w.name, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Gossip kept flowing although nobody reads slow's events.
	for _, w := range writers {
		waitUntil(ctx, t, "slow sees the last update of "+w.name, func() bool {
			m, ok := slow.m.Member(w.name)
			return ok && m.Meta["v"] == strconv.Itoa(updates)
		})
	}
	slow.m.events.mu.Lock()
	queued := len(slow.m.events.items)
	slow.m.events.mu.Unlock()
	if queued < updates {
		t.Fatalf("only %d events queued at the undrained node, want at least %d", queued, updates)
	}

	// Now drain: self joined first, then per writer Joined before strictly
	// increasing updates ending with the last one.
	first := true
	joined := map[string]bool{}
	lastV := map[string]int{}
	for done := 0; done < len(writers); {
		var e Event
		select {
		case e = <-slow.m.Events():
		case <-ctx.Done():
			t.Fatalf("timed out draining events; last versions %v", lastV)
		}
		if first {
			if e.Kind != Joined || e.Member.Name != "slow" {
				t.Fatalf("first event = %+v, want Joined for self", e)
			}
			first = false
			continue
		}
		switch e.Kind {
		case Joined:
			joined[e.Member.Name] = true
		case Updated:
			if !joined[e.Member.Name] {
				t.Fatalf("Updated for %s before its Joined", e.Member.Name)
			}
			v, err := strconv.Atoi(e.Member.Meta["v"])
			if err != nil || v <= lastV[e.Member.Name] {
				t.Fatalf("Updated for %s with v=%q after v=%d", e.Member.Name, e.Member.Meta["v"], lastV[e.Member.Name])
			}
			lastV[e.Member.Name] = v
			if v == updates {
				done++
			}
		default:
			t.Fatalf("unexpected event %+v", e)
		}
	}
}
