package ring_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"

	. "github.com/concord-kv/concord/ring"
)

func TestRingConvergesToIdeal(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	r.grow(8, nil)
	await.Until(t, 30*time.Second, "ideal ring", func() error { return idealError(r.live()) })
	// Every node's lookup of a key names the same owner, the one the ranges say.
	for _, key := range []string{"a", "b", "c", "user:42", ""} {
		var owner Server
		for i, n := range r.nodes {
			s, err := n.Lookup([]byte(key))
			if err != nil {
				t.Fatalf("lookup %q at %s: %v", key, n.Name(), err)
			}
			if i > 0 && s.Name != owner.Name {
				t.Fatalf("lookup %q: %s says %s, %s says %s", key, r.nodes[0].Name(), owner.Name, n.Name(), s.Name)
			}
			owner = s
		}
		pos := r.nodes[0].Position([]byte(key))
		for _, n := range r.nodes {
			if rg, _ := n.Range(); rg.Contains(pos) && n.Name() != owner.Name {
				t.Fatalf("key %q at %d is in %s's range %v but lookup says %s", key, pos, n.Name(), rg, owner.Name)
			}
		}
	}
}

// The seed library put a key whose hash equals a node id on the next node.
// Ranges are (pred, self], so the key belongs to the node with that id.
func TestKeyAtNodeIDBelongsToThatNode(t *testing.T) {
	t.Parallel()
	ids := []uint64{10, 100, 200}
	// Keys are decimal ids; the hash parses them, so "100" hashes to 100.
	hash := func(b []byte) uint64 {
		var v uint64
		for _, c := range b {
			v = v*10 + uint64(c-'0')
		}
		return v
	}
	r := newTestRing(t)
	r.grow(3, func(c *Config) {
		id := ids[len(r.nodes)]
		c.ID = &id
		c.HashFunc = hash
		c.HashBits = 8
	})
	await.Until(t, 30*time.Second, "ideal ring", func() error { return idealError(r.live()) })
	cases := map[string]uint64{"10": 10, "100": 100, "200": 200, "11": 100, "201": 10, "0": 10, "255": 10}
	for key, want := range cases {
		for _, n := range r.nodes {
			s, err := n.Lookup([]byte(key))
			if err != nil {
				t.Fatal(err)
			}
			if s.Id != want {
				t.Errorf("lookup %q at %s: owner id %d, want %d", key, n.Name(), s.Id, want)
			}
		}
	}
}

// rangeRecorder records OnRangeChange calls and checks they never overlap.
type rangeRecorder struct {
	inflight atomic.Int32
	overlap  atomic.Bool
	mu       sync.Mutex
	got      []Range
}

func (rr *rangeRecorder) last() (Range, int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if len(rr.got) == 0 {
		return Range{}, 0
	}
	return rr.got[len(rr.got)-1], len(rr.got)
}

func TestOnRangeChange(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	rec := &rangeRecorder{}
	var node *Node
	node = r.add(0, func(c *Config) {
		c.OnRangeChange = func(rg Range) {
			if rec.inflight.Add(1) > 1 {
				rec.overlap.Store(true)
			}
			defer rec.inflight.Add(-1)
			// A callback may call any method: these would deadlock if the
			// callback ran under the node's lock.
			_ = node.Successors()
			_, _ = node.Predecessor()
			if cur, ok := node.Range(); !ok || cur.End != rg.End {
				t.Errorf("callback range %v, node says %v", rg, cur)
			}
			rec.mu.Lock()
			rec.got = append(rec.got, rg)
			rec.mu.Unlock()
		}
	})
	if err := node.Create(); err != nil {
		t.Fatal(err)
	}
	whole := Range{Start: node.Id(), End: node.Id()}
	await.Until(t, 30*time.Second, "range of a new ring", func() error {
		if rg, _ := rec.last(); rg != whole {
			return errors.New("no whole-circle range yet")
		}
		return nil
	})

	// A joiner takes part of the arc: the creator's range becomes
	// (joiner, self].
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	other := r.add(1, nil)
	if err := other.Join(ctx, node.Address()); err != nil {
		t.Fatal(err)
	}
	want := Range{Start: other.Id(), End: node.Id()}
	await.Until(t, 30*time.Second, "range shrinks on join", func() error {
		if rg, _ := rec.last(); rg != want {
			return errors.New("range not yet (joiner, self]")
		}
		return nil
	})

	// The other node crashes: the creator becomes isolated and owns the
	// whole circle again.
	other.Stop()
	await.Until(t, 30*time.Second, "range grows when isolated", func() error {
		if rg, _ := rec.last(); rg != whole {
			return errors.New("range not yet the whole circle")
		}
		return nil
	})
	if rec.overlap.Load() {
		t.Fatal("OnRangeChange calls overlapped")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := 1; i < len(rec.got); i++ {
		if rec.got[i] == rec.got[i-1] {
			t.Fatalf("range %v reported twice in a row", rec.got[i])
		}
	}
}

// A callback may even stop the node it belongs to.
func TestOnRangeChangeMayStopNode(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	stopped := make(chan struct{})
	var node *Node
	node = r.add(0, func(c *Config) {
		c.OnRangeChange = func(Range) {
			node.Stop()
			close(stopped)
		}
	})
	if err := node.Create(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("callback did not run")
	}
	if node.IsMember() {
		t.Fatal("node still a member after Stop from its callback")
	}
}

func TestHashConfig(t *testing.T) {
	t.Parallel()
	big := uint64(math.MaxUint64 - 5)
	custom := func([]byte) uint64 { return big }

	// A custom HashFunc with HashBits unset uses the full 64 bits.
	n := New(Config{Name: "a", BindAddr: "127.0.0.1:0", HashFunc: custom})
	if n.Id() != big {
		t.Fatalf("id %d, want %d (64-bit ids when HashBits is unset)", n.Id(), big)
	}
	// With HashBits set, ids and positions are masked.
	n = New(Config{Name: "a", BindAddr: "127.0.0.1:0", HashFunc: custom, HashBits: 8})
	if n.Id() != big&0xff || n.Position([]byte("k")) != big&0xff {
		t.Fatalf("id %d, want %d", n.Id(), big&0xff)
	}
	for _, bits := range []int{-1, 65, 1000} {
		n := New(Config{Name: "a", BindAddr: "127.0.0.1:0", HashBits: bits})
		if err := n.Start(); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("HashBits %d: Start returned %v, want ErrInvalidConfig", bits, err)
		}
		if _, err := n.Lookup([]byte("k")); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("HashBits %d: Lookup returned %v", bits, err)
		}
		if err := n.Create(); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("HashBits %d: Create returned %v", bits, err)
		}
		n.Stop()
	}
	tooBig := uint64(300)
	if err := New(Config{Name: "a", BindAddr: "127.0.0.1:0", HashBits: 8, ID: &tooBig}).Start(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("ID wider than HashBits: %v", err)
	}
	if err := New(Config{BindAddr: "127.0.0.1:0"}).Start(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty name: %v", err)
	}
}

func TestCreateAndJoinTwice(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	a := r.add(0, nil)
	if err := a.Create(); err != nil {
		t.Fatal(err)
	}
	if err := a.Create(); !errors.Is(err, ErrAlreadyMember) {
		t.Fatalf("second Create: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Join(ctx, a.Address()); !errors.Is(err, ErrAlreadyMember) {
		t.Fatalf("Join after Create: %v", err)
	}
	b := r.add(1, nil)
	if err := b.Join(ctx); !errors.Is(err, ErrNoSeed) {
		t.Fatalf("Join without seeds: %v", err)
	}
	// The first seed has no listener, the second is the ring: Join tries both.
	if err := b.Join(ctx, hostIP(9)+":7000", a.Address()); err != nil {
		t.Fatalf("Join with a dead first seed: %v", err)
	}
	if err := b.Join(ctx, a.Address()); !errors.Is(err, ErrAlreadyMember) {
		t.Fatalf("second Join: %v", err)
	}
	if err := b.Create(); !errors.Is(err, ErrAlreadyMember) {
		t.Fatalf("Create after Join: %v", err)
	}
	if err := New(Config{Name: "z", BindAddr: "127.0.0.1:0"}).Create(); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Create before Start: %v", err)
	}
}

func TestDuplicateIDRefused(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	r.grow(3, nil)
	await.Until(t, 30*time.Second, "ideal ring", func() error { return idealError(r.live()) })
	dupID := r.nodes[1].Id()
	dup := r.add(3, func(c *Config) { c.ID = &dupID })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := dup.Join(ctx, r.nodes[0].Address())
	if !errors.Is(err, ErrIDTaken) {
		t.Fatalf("join with a taken id: %v, want ErrIDTaken", err)
	}
	if dup.IsMember() {
		t.Fatal("refused node became a member")
	}
	// Nothing changed: the ring of three is still ideal and does not know
	// the refused node.
	if err := idealError(r.nodes[:3]); err != nil {
		t.Fatal(err)
	}
	for _, n := range r.nodes[:3] {
		for _, s := range n.Successors() {
			if s.Name == dup.Name() {
				t.Fatalf("%s lists the refused node", n.Name())
			}
		}
	}
	// The refused node can still join with a different id.
	other := r.add(4, nil)
	if err := other.Join(ctx, r.nodes[0].Address()); err != nil {
		t.Fatal(err)
	}
}

// A peer whose packets vanish (no refusal, no reset) must time out and be
// routed around; the seed library hung on such peers.
func TestBlackHoledPeerIsRepaired(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	r.grow(5, nil)
	await.Until(t, 30*time.Second, "ideal ring", func() error { return idealError(r.live()) })
	victim := r.nodes[2]
	var others []string
	var rest []*Node
	for i, n := range r.nodes {
		if n != victim {
			others = append(others, hostIP(i))
			rest = append(rest, n)
		}
	}
	r.net.Partition([]string{hostIP(2)}, others)
	await.Until(t, 60*time.Second, "ring repaired around the black hole", func() error { return idealError(rest) })
	for _, n := range rest {
		if _, err := n.Lookup([]byte("some key")); err != nil {
			t.Fatalf("lookup at %s: %v", n.Name(), err)
		}
	}
}

func TestLeaveHandsArcOver(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	r.grow(4, func(c *Config) { c.StabilizeInterval = time.Hour }) // no repair rounds: only Leave acts
	for range 12 {
		for _, n := range r.nodes {
			n.Stabilize(context.Background())
		}
	}
	if err := idealError(r.live()); err != nil {
		t.Fatal(err)
	}
	leaver := r.nodes[1]
	pred, _ := leaver.Predecessor()
	succ := leaver.Successors()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := leaver.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	// Synchronously after Leave returns, with no stabilization since: the
	// successor owns (pred, succ] and the predecessor points past the leaver.
	for _, n := range r.nodes {
		if n.Name() == succ.Name {
			if rg, _ := n.Range(); rg != (Range{Start: pred.Id, End: succ.Id}) {
				t.Fatalf("successor range %v, want (%d, %d]", rg, pred.Id, succ.Id)
			}
		}
		if n.Name() == pred.Name && n.Successors()[0].Name != succ.Name {
			t.Fatalf("predecessor's successor is %s, want %s", n.Successors()[0].Name, succ.Name)
		}
	}
	// Nodes further back still list the leaver deeper in their successor
	// lists; ordinary rounds copy the corrected lists backwards.
	for range 3 {
		for _, n := range r.live() {
			n.Stabilize(ctx)
		}
	}
	if err := idealError(r.live()); err != nil {
		t.Fatalf("ring not ideal after a graceful leave and three rounds: %v", err)
	}
}

func TestStopIsACrash(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	r.grow(4, nil)
	await.Until(t, 30*time.Second, "ideal ring", func() error { return idealError(r.live()) })
	r.nodes[3].Stop()
	await.Until(t, 30*time.Second, "ring repaired after a crash", func() error { return idealError(r.live()) })
	if r.nodes[3].IsMember() {
		t.Fatal("stopped node is still a member")
	}
	if _, err := r.nodes[3].Lookup([]byte("k")); !errors.Is(err, ErrNotMember) {
		t.Fatalf("lookup on a stopped node: %v", err)
	}
}

func TestLookupHops(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	r.grow(16, nil)
	await.Until(t, 60*time.Second, "ideal ring", func() error { return idealError(r.live()) })
	// Let every node refresh its fingers.
	await.Until(t, 60*time.Second, "fingers refreshed", func() error {
		for _, n := range r.nodes {
			if n.Stats().StabilizeRounds < 70 {
				return errors.New("too few rounds yet")
			}
		}
		return nil
	})
	total, count := 0, 0
	for i, n := range r.nodes {
		for k := range 32 {
			// A deadline per lookup: 512 of them in a row can take a while
			// on a loaded machine with the race detector.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			tr, err := n.Trace(ctx, uint64(i*7919+k)*0x9e3779b97f4a7c15)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			total += tr.Hops
			count++
		}
	}
	mean := float64(total) / float64(count)
	// ½·log2(16) = 2; fingers make it logarithmic, a successor walk would be ~8.
	if mean > 3 {
		t.Fatalf("mean lookup path %.2f hops in a 16-node ring, want about 2", mean)
	}
}
