package ring

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord/transport"
)

// handRing is a ring whose rounds the test drives by hand (negative
// StabilizeInterval), so what each round does is deterministic.
type handRing struct {
	t     *testing.T
	net   *transport.MemNetwork
	nodes []*Node
}

// add starts a node with the given id and makes it create the ring or join
// it through the first node.
func (r *handRing) add(id uint64) *Node {
	r.t.Helper()
	ip := fmt.Sprintf("127.4.0.%d", len(r.nodes)+1)
	n := New(Config{
		Name:              fmt.Sprintf("f%d", len(r.nodes)),
		ID:                &id,
		BindAddr:          ip + ":7000",
		Network:           r.net.Host(ip),
		StabilizeInterval: -1,
		RPCTimeout:        5 * time.Second,
	})
	if err := n.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(n.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if len(r.nodes) == 0 {
		err = n.Create()
	} else {
		err = n.Join(ctx, r.nodes[0].Address())
	}
	if err != nil {
		r.t.Fatalf("%s: %v", n.Name(), err)
	}
	r.nodes = append(r.nodes, n)
	return n
}

// rounds runs k stabilization rounds on every node.
func (r *handRing) rounds(k int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for range k {
		for _, n := range r.nodes {
			n.Stabilize(ctx)
		}
	}
}

// wrongFingers describes the first finger that does not name the owner of
// its target among the ring's ids, or returns "" if there is none.
func (r *handRing) wrongFingers() string {
	ids := make([]uint64, len(r.nodes))
	for i, n := range r.nodes {
		ids[i] = n.Id()
	}
	slices.Sort(ids)
	owner := func(t uint64) uint64 {
		if i, _ := slices.BinarySearch(ids, t); i < len(ids) {
			return ids[i]
		}
		return ids[0]
	}
	for _, n := range r.nodes {
		n.mu.Lock()
		for i := range n.fingers {
			target := n.self.Id + uint64(1)<<uint(i)
			want := owner(target)
			got, ok := n.fingers[i], n.fingerOK[i]
			var why string
			switch {
			case want == n.self.Id && ok:
				why = fmt.Sprintf("set to %v, but the node owns its target itself", got)
			case want != n.self.Id && (!ok || got.Id != want):
				why = fmt.Sprintf("%v (set %v), want id %d", got, ok, want)
			}
			if why != "" {
				n.mu.Unlock()
				return fmt.Sprintf("%s finger %d (target %d): %s", n.Name(), i, target, why)
			}
		}
		n.mu.Unlock()
	}
	return ""
}

func (r *handRing) lookups() uint64 {
	var sum uint64
	for _, n := range r.nodes {
		sum += n.Stats().Lookups
	}
	return sum
}

// Once the fingers are right, rounds check them with a State call each
// instead of looking them up again; a node that joins between a finger's
// target and the finger fails that check and takes the finger over.
func TestFingersAreCheckedThenMoved(t *testing.T) {
	t.Parallel()
	r := &handRing{t: t, net: transport.NewMemNetwork(1)}
	const eighth = uint64(1) << 61
	for i := range uint64(8) {
		r.add(i * eighth)
	}
	// 64 rounds visit every finger at least once.
	r.rounds(80)
	if why := r.wrongFingers(); why != "" {
		t.Fatalf("after 80 rounds: %s", why)
	}
	before := r.lookups()
	r.rounds(80)
	if why := r.wrongFingers(); why != "" {
		t.Fatalf("fingers changed in a stable ring: %s", why)
	}
	if after := r.lookups(); after != before {
		t.Fatalf("a stable ring made %d finger lookups, want none", after-before)
	}

	// Node 0's finger 60 (target 2^60) is node 1 (2^61) until this node
	// joins between them.
	r.add(eighth - eighth/4)
	r.rounds(80)
	if why := r.wrongFingers(); why != "" {
		t.Fatalf("after a join: %s", why)
	}
	if r.lookups() == before {
		t.Fatal("no finger was looked up again after a join")
	}
}
