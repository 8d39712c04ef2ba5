package raftwire

import (
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
)

// strictlyIncreasing checks that indexes only grow: no message overtook
// another, however many were lost.
func strictlyIncreasing(got []Message) error {
	for i := 1; i < len(got); i++ {
		if got[i].Msg.GetIndex() <= got[i-1].Msg.GetIndex() {
			return fmt.Errorf("index %d after %d", got[i].Msg.GetIndex(), got[i-1].Msg.GetIndex())
		}
	}
	return nil
}

// A cut link stops acknowledgements: the sender declares the stream broken
// and calls OnUnreachable. After the link heals, delivery resumes, and
// nothing that arrives (held bytes of abandoned streams included) is out
// of order.
func TestCutLinkReportsUnreachableAndHeals(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.4.0.1", func(cfg *Config) { cfg.AckTimeout = 300 * time.Millisecond })
	b := c.add("b", "127.4.0.2", nil)
	var next uint64 = 1
	send := func() {
		a.tr.Send("b", msg(next%3+1, next, 20))
		next++
	}
	send()
	await.Until(t, eventually, "first delivery", func() error {
		if b.rec.count("a") != 1 {
			return fmt.Errorf("not delivered")
		}
		return nil
	})

	c.net.Cut(a.ip, b.ip)
	before := a.rec.unreachableCount("b")
	await.Until(t, eventually, "OnUnreachable after the cut", func() error {
		send()
		if a.rec.unreachableCount("b") == before {
			return fmt.Errorf("not reported")
		}
		return nil
	})
	if a.tr.Stats().StreamFailures == 0 {
		t.Error("no stream failure counted")
	}

	c.net.Heal(a.ip, b.ip)
	healed := next
	await.Until(t, eventually, "delivery after healing", func() error {
		send()
		got := b.rec.received("a")
		if last := got[len(got)-1].Msg.GetIndex(); last < healed {
			return fmt.Errorf("last delivered %d, sent since healing from %d", last, healed)
		}
		return nil
	})
	if err := strictlyIncreasing(b.rec.received("a")); err != nil {
		t.Fatal(err)
	}
}

// With the peer crashed (black-holed: dials hang, nothing answers), Send
// still returns at once; what does not fit in the queue is dropped and
// counted, OnUnreachable is called, and every message is eventually
// accounted for. Once the peer is back, delivery resumes.
func TestSendNeverBlocksOnCrashedPeer(t *testing.T) {
	t.Parallel()
	const queueLen = 16
	c := newCluster(t)
	a := c.add("a", "127.4.1.1", func(cfg *Config) {
		cfg.QueueLen = queueLen
		cfg.AckTimeout = 300 * time.Millisecond
	})
	b := c.add("b", "127.4.1.2", nil)
	a.tr.Send("b", msg(1, 1, 0))
	await.Until(t, eventually, "first delivery", func() error {
		if b.rec.count("a") != 1 {
			return fmt.Errorf("not delivered")
		}
		return nil
	})

	c.net.Crash(b.ip)
	const bursts, burst = 200, 4 * queueLen
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range bursts {
			msgs := make([]Message, burst)
			for j := range msgs {
				idx := uint64(2 + i*burst + j)
				msgs[j] = msg(1, idx, 100)
			}
			a.tr.Send("b", msgs...)
		}
	}()
	select {
	case <-done:
	case <-time.After(eventually): // an upper bound, not a measurement
		t.Fatal("Send blocked on a crashed peer")
	}
	total := uint64(1 + bursts*burst)
	// Each burst is four times the queue: at least three quarters of it
	// cannot have been queued.
	if st := a.tr.Stats(); st.DroppedQueueFull < bursts*(burst-queueLen) {
		t.Errorf("%d queue-full drops, want at least %d", st.DroppedQueueFull, bursts*(burst-queueLen))
	}
	await.Until(t, eventually, "OnUnreachable", func() error {
		if a.rec.unreachableCount("b") == 0 {
			return fmt.Errorf("not called")
		}
		return nil
	})
	await.Until(t, eventually, "every message accounted for", func() error {
		st := a.tr.Stats()
		if got := st.MessagesSent + st.Dropped(); got != total {
			return fmt.Errorf("sent %d + dropped %d = %d of %d", st.MessagesSent, st.Dropped(), got, total)
		}
		return nil
	})

	// The peer comes back (a new process on the same address).
	c.net.Restart(b.ip)
	b2 := c.add("b", b.ip, nil)
	idx := total + 1
	await.Until(t, eventually, "delivery to the restarted peer", func() error {
		a.tr.Send("b", msg(1, idx, 0))
		idx++
		if b2.rec.count("a") == 0 {
			return fmt.Errorf("nothing delivered")
		}
		return nil
	})
	if err := strictlyIncreasing(b2.rec.received("a")); err != nil {
		t.Fatal(err)
	}
}

// A node that cannot be resolved, or whose address now belongs to another
// node, is unreachable: messages are dropped and OnUnreachable called.
func TestUnknownOrWrongNodeIsUnreachable(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.4.2.1", nil)
	b := c.add("b", "127.4.2.2", nil)
	a.tr.Send("nobody", msg(1, 1, 0))
	await.Until(t, eventually, "unknown node reported", func() error {
		if a.rec.unreachableCount("nobody") == 0 {
			return fmt.Errorf("not reported")
		}
		return nil
	})

	// "ghost" resolves to b's address: b refuses streams meant for ghost.
	addr, _ := c.resolve("b")
	c.mu.Lock()
	c.addrs["ghost"] = addr
	c.mu.Unlock()
	await.Until(t, eventually, "wrong node reported", func() error {
		a.tr.Send("ghost", msg(1, 1, 0))
		if a.rec.unreachableCount("ghost") == 0 {
			return fmt.Errorf("not reported")
		}
		return nil
	})
	b.rec.mu.Lock()
	delivered := len(b.rec.got)
	b.rec.mu.Unlock()
	if delivered != 0 {
		t.Errorf("b accepted messages meant for another node")
	}
	// Written to a stream is not delivered: b refused the stream at its
	// header, so what followed it was never handed over.
	if st := a.tr.Stats(); st.StreamFailures < 2 || b.tr.Stats().MessagesReceived != 0 {
		t.Errorf("%d stream failures, b received %d; want at least 2, 0", st.StreamFailures, b.tr.Stats().MessagesReceived)
	}
}
