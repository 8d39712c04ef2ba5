package raftwire

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/internal/await"
)

// Every node sends a long run of messages over many ranges to each of the
// others, concurrently, in bursts of random size: each receiver gets each
// sender's run complete and in order, nothing is dropped, and no stream
// breaks.
func TestOrderedDeliveryAcrossRanges(t *testing.T) {
	t.Parallel()
	const (
		perPair = 3000
		ranges  = 97
	)
	rangeOf := func(i uint64) uint64 { return i%ranges + 1 }
	c := newCluster(t)
	names := []string{"a", "b", "c"}
	nodes := map[string]*node{}
	for i, name := range names {
		nodes[name] = c.add(name, fmt.Sprintf("127.3.0.%d", i+1), func(cfg *Config) {
			cfg.QueueLen = perPair // nothing can overflow
			cfg.MaxBatchBytes = 16 << 10
		})
	}
	var wg sync.WaitGroup
	for i, from := range names {
		for j, to := range names {
			if from == to {
				continue
			}
			rng := rand.New(rand.NewPCG(uint64(i), uint64(j)))
			wg.Go(func() {
				for next := uint64(1); next <= perPair; {
					burst := min(uint64(1+rng.IntN(40)), perPair+1-next)
					msgs := make([]Message, 0, burst)
					for k := range burst {
						idx := next + k
						msgs = append(msgs, msg(rangeOf(idx), idx, int(idx%300)))
					}
					nodes[from].tr.Send(to, msgs...)
					next += burst
				}
			})
		}
	}
	wg.Wait()
	for _, to := range names {
		for _, from := range names {
			if from == to {
				continue
			}
			rec := nodes[to].rec
			await.Until(t, eventually, from+" -> "+to+" delivered", func() error {
				if n := rec.count(from); n != perPair {
					return fmt.Errorf("%d of %d messages", n, perPair)
				}
				return nil
			})
			got := rec.received(from)
			if err := checkSequence(got, 1, rangeOf); err != nil {
				t.Fatalf("%s -> %s: %v", from, to, err)
			}
			for _, m := range got {
				if err := checkPayload(m, int(m.Msg.GetIndex()%300)); err != nil {
					t.Fatalf("%s -> %s: %v", from, to, err)
				}
			}
		}
	}
	for _, name := range names {
		st := nodes[name].tr.Stats()
		if st.Dropped() != 0 || st.StreamFailures != 0 {
			t.Errorf("%s: %d dropped, %d stream failures", name, st.Dropped(), st.StreamFailures)
		}
		if st.MessagesSent != 2*perPair || st.MessagesReceived != 2*perPair {
			t.Errorf("%s: sent %d, received %d, want %d each", name, st.MessagesSent, st.MessagesReceived, 2*perPair)
		}
		if st.BatchesSent >= st.MessagesSent {
			t.Errorf("%s: %d batches for %d messages: nothing coalesced", name, st.BatchesSent, st.MessagesSent)
		}
	}
}

// Messages queued while the sender goroutine is busy (here: held up in
// Resolve while it connects) leave in as few stream messages as fit, not
// one each.
func TestBatchingCoalesces(t *testing.T) {
	t.Parallel()
	const n = 1000
	c := newCluster(t)
	resolving := make(chan struct{})
	proceed := make(chan struct{})
	var once sync.Once
	a := c.add("a", "127.3.1.1", func(cfg *Config) {
		cfg.Resolve = func(node string) (string, bool) {
			once.Do(func() {
				close(resolving)
				<-proceed
			})
			return c.resolve(node)
		}
	})
	b := c.add("b", "127.3.1.2", nil)

	a.tr.Send("b", msg(1, 1, 0))
	<-resolving // the sender took message 1 and is connecting
	for i := uint64(2); i <= n; i++ {
		a.tr.Send("b", msg(i%7+1, i, 0))
	}
	close(proceed)
	await.Until(t, eventually, "all delivered", func() error {
		if got := b.rec.count("a"); got != n {
			return fmt.Errorf("%d of %d", got, n)
		}
		return nil
	})
	if err := checkSequence(b.rec.received("a"), 1, func(i uint64) uint64 {
		if i == 1 {
			return 1
		}
		return i%7 + 1
	}); err != nil {
		t.Fatal(err)
	}
	// Message 1 alone, then the 999 queued meanwhile (about 25 KB, well
	// under one MaxBatchBytes) in one stream message.
	st := a.tr.Stats()
	if st.MessagesSent != n || st.BatchesSent != 2 {
		t.Errorf("sent %d messages in %d batches, want %d in 2", st.MessagesSent, st.BatchesSent, n)
	}
	b.rec.mu.Lock()
	calls := b.rec.batches
	b.rec.mu.Unlock()
	if rs := b.tr.Stats(); rs.BatchesReceived != 2 || calls != 2 {
		t.Errorf("receiver saw %d batches in %d HandleMessages calls, want 2", rs.BatchesReceived, calls)
	}
}

// The framer packs messages up to MaxBatchBytes and splits a message too
// large for one stream message into pieces that are reassembled intact.
func TestLargeMessagesTravelInPieces(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	const maxBatch = 8 << 10
	a := c.add("a", "127.3.2.1", func(cfg *Config) { cfg.MaxBatchBytes = maxBatch })
	b := c.add("b", "127.3.2.2", nil)
	sizes := []int{10, 100 << 10, 0, 3000, maxBatch, 5, 40 << 10, 1}
	var msgs []Message
	for i, size := range sizes {
		msgs = append(msgs, msg(uint64(i%3+1), uint64(i+1), size))
	}
	a.tr.Send("b", msgs...)
	await.Until(t, eventually, "all delivered", func() error {
		if got := b.rec.count("a"); got != len(sizes) {
			return fmt.Errorf("%d of %d", got, len(sizes))
		}
		return nil
	})
	got := b.rec.received("a")
	if err := checkSequence(got, 1, func(i uint64) uint64 { return (i-1)%3 + 1 }); err != nil {
		t.Fatal(err)
	}
	for i, m := range got {
		if err := checkPayload(m, sizes[i]); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(m.Msg, msgs[i].Msg) {
			t.Fatalf("message %d differs after the trip", i)
		}
	}
	st := a.tr.Stats()
	total := 0
	for _, m := range msgs {
		total += proto.Size(m.Msg)
	}
	if least := uint64(total / maxBatch); st.BatchesSent < least {
		t.Errorf("%d bytes in %d batches of at most %d: some batch was too big", total, st.BatchesSent, maxBatch)
	}
}

// A sender goroutine with nothing to send for IdleTimeout closes its stream
// and exits; the next Send starts a new one, without loss or failure.
func TestIdlePeerRetiresAndRestarts(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.3.3.1", func(cfg *Config) { cfg.IdleTimeout = 100 * time.Millisecond })
	b := c.add("b", "127.3.3.2", nil)
	for round := uint64(1); round <= 3; round++ {
		a.tr.Send("b", msg(1, round, 10))
		await.Until(t, eventually, "delivered", func() error {
			if got := b.rec.count("a"); got != int(round) {
				return fmt.Errorf("%d of %d", got, round)
			}
			return nil
		})
		await.Until(t, eventually, "sender retired", func() error {
			if p := a.tr.Stats().Peers; p != 0 {
				return fmt.Errorf("%d peers", p)
			}
			return nil
		})
	}
	st := a.tr.Stats()
	if st.StreamsOpened != 3 || st.StreamFailures != 0 || st.Dropped() != 0 {
		t.Errorf("opened %d streams, %d failures, %d dropped; want 3, 0, 0", st.StreamsOpened, st.StreamFailures, st.Dropped())
	}
	if n := a.rec.unreachableCount("b"); n != 0 {
		t.Errorf("OnUnreachable called %d times", n)
	}
	if err := checkSequence(b.rec.received("a"), 1, func(uint64) uint64 { return 1 }); err != nil {
		t.Fatal(err)
	}
}

// Streams are renewed once they reach their lifetime: the old one is
// drained before the new one starts, so nothing is lost or reordered.
func TestStreamRenewalLosesNothing(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.3.4.1", nil)
	b := c.add("b", "127.3.4.2", nil)
	a.tr.streamLifetime = 20 * time.Millisecond // before the first Send
	var next uint64 = 1
	await.Until(t, eventually, "three renewals", func() error {
		for range 20 {
			a.tr.Send("b", msg(next%5+1, next, 50))
			next++
		}
		if n := a.tr.Stats().StreamsOpened; n < 4 {
			return fmt.Errorf("%d streams opened", n)
		}
		return nil
	})
	sent := int(next - 1)
	await.Until(t, eventually, "all delivered", func() error {
		if got := b.rec.count("a"); got != sent {
			return fmt.Errorf("%d of %d", got, sent)
		}
		return nil
	})
	if err := checkSequence(b.rec.received("a"), 1, func(i uint64) uint64 { return i%5 + 1 }); err != nil {
		t.Fatal(err)
	}
	if st := a.tr.Stats(); st.StreamFailures != 0 || st.Dropped() != 0 {
		t.Errorf("%d stream failures, %d dropped", st.StreamFailures, st.Dropped())
	}
}

// Messages with a nil Msg are refused at Send and counted; Send after
// Close drops and counts too.
func TestInvalidAndClosedDrops(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.3.5.1", nil)
	b := c.add("b", "127.3.5.2", nil)
	a.tr.Send("b", Message{RangeID: 1}, msg(1, 1, 0))
	await.Until(t, eventually, "valid one delivered", func() error {
		if got := b.rec.count("a"); got != 1 {
			return fmt.Errorf("%d delivered", got)
		}
		return nil
	})
	a.stop()
	a.tr.Send("b", msg(1, 2, 0), msg(1, 3, 0))
	st := a.tr.Stats()
	if st.DroppedInvalid != 1 || st.DroppedClosed != 2 || st.MessagesSent != 1 {
		t.Errorf("invalid %d, closed %d, sent %d; want 1, 2, 1", st.DroppedInvalid, st.DroppedClosed, st.MessagesSent)
	}
}
