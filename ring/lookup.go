package ring

import (
	"context"
	"fmt"
	"slices"
)

// Lookup returns the node that owns key: the successor of HashFunc(key)
// masked to HashBits. It is bounded by Config.LookupTimeout.
func (n *Node) Lookup(key []byte) (Server, error) {
	if n.cfgErr != nil {
		return Server{}, n.cfgErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.LookupTimeout)
	defer cancel()
	return n.LookupID(ctx, n.cfg.position(key))
}

// LookupID returns the node that owns id (the first node at or clockwise
// after id).
func (n *Node) LookupID(ctx context.Context, id uint64) (Server, error) {
	t, err := n.Trace(ctx, id)
	return t.Owner, err
}

// Position returns the id of key on the circle: HashFunc(key) masked to
// HashBits bits.
func (n *Node) Position(key []byte) uint64 {
	if n.cfgErr != nil {
		return 0
	}
	return n.cfg.position(key)
}

// Trace is the outcome of a lookup with its path length.
type Trace struct {
	Owner Server
	// Hops counts the remote nodes asked; 0 means this node answered from
	// its own successor list.
	Hops int
}

// Trace looks id up like LookupID and also reports how many remote hops
// the iterative Chord routing took. Steady-state rings need about
// ½·log2(N) hops.
func (n *Node) Trace(ctx context.Context, id uint64) (Trace, error) {
	if n.cfgErr != nil {
		return Trace{}, n.cfgErr
	}
	n.mu.Lock()
	member := n.phase == phaseMember
	self := n.self
	n.mu.Unlock()
	if !member {
		return Trace{}, ErrNotMember
	}
	owner, hops, err := n.findFrom(ctx, self, id&n.cfg.mask, nil)
	n.stats.lookups.Add(1)
	n.stats.lookupHops.Add(uint64(hops))
	n.hops.Observe(float64(hops))
	if err != nil {
		n.stats.lookupFailures.Add(1)
	}
	return Trace{Owner: owner, Hops: hops}, err
}

// maxHops bounds a lookup: more steps than this means the pointers are
// inconsistent (they are repaired by stabilization), not that the ring is
// large.
func (n *Node) maxHops() int { return 2*n.cfg.bits + n.cfg.SuccessorCount + 8 }

// findFrom runs an iterative lookup of id starting at node start (this node
// or a seed), never routing to or answering with the ids in exclude. Each
// step asks the current node for the owner or a closer node. A node that
// does not answer is excluded and the previous node is asked again for an
// alternative.
func (n *Node) findFrom(ctx context.Context, start Server, id uint64, exclude []uint64) (Server, int, error) {
	exclude = slices.Clone(exclude)
	path := []Server{start}
	hops := 0
	for hops <= n.maxHops() {
		if err := ctx.Err(); err != nil {
			return Server{}, hops, fmt.Errorf("%w: id %d: %w", ErrLookupFailed, id, err)
		}
		cur := path[len(path)-1]
		var next Server
		var done bool
		var err error
		if cur.Name == n.self.Name && cur.Id == n.self.Id {
			next, done, err = n.localStep(id, exclude)
		} else {
			hops++
			next, done, err = n.findStep(ctx, cur, id, exclude)
		}
		if err != nil {
			if len(path) == 1 {
				return Server{}, hops, fmt.Errorf("%w: %w", ErrLookupFailed, err)
			}
			exclude = append(exclude, cur.Id)
			path = path[:len(path)-1]
			n.forgetFinger(cur)
			continue
		}
		if done {
			return next, hops, nil
		}
		if slices.ContainsFunc(path, next.same) {
			return Server{}, hops, fmt.Errorf("%w: id %d: routing loop at %s", ErrLookupFailed, id, next)
		}
		path = append(path, next)
	}
	return Server{}, hops, fmt.Errorf("%w: id %d: more than %d hops", ErrLookupFailed, id, n.maxHops())
}

func (n *Node) localStep(id uint64, exclude []uint64) (Server, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.phase != phaseMember {
		return Server{}, false, ErrNotMember
	}
	next, done := n.stepLocked(id, exclude)
	return next, done, nil
}

// stepLocked is one step of a lookup at this node: either the owner of id
// (done) or the known node that most closely precedes id.
func (n *Node) stepLocked(id uint64, exclude []uint64) (Server, bool) {
	if id == n.self.Id {
		return n.self, true
	}
	if n.hasPred && (Range{Start: n.pred.Id, End: n.self.Id}).Contains(id) {
		return n.self, true
	}
	// The first live successor s owns (self, s].
	var succ Server
	found := false
	for _, s := range n.succs {
		if !slices.Contains(exclude, s.Id) {
			succ, found = s, true
			break
		}
	}
	if !found {
		return n.self, true
	}
	if (Range{Start: n.self.Id, End: succ.Id}).Contains(id) {
		return succ, true
	}
	if p, ok := n.closestPrecedingLocked(id, exclude); ok {
		return p, false
	}
	return succ, false
}

// closestPrecedingLocked returns the known node in (self, id) closest to id,
// from the fingers and the successor list.
func (n *Node) closestPrecedingLocked(id uint64, exclude []uint64) (Server, bool) {
	var best Server
	var bestDist uint64
	found := false
	consider := func(s Server) {
		if s.Id == n.self.Id || !between(n.self.Id, s.Id, id) || slices.Contains(exclude, s.Id) {
			return
		}
		if d := distance(n.self.Id, s.Id, n.cfg.bits); !found || d > bestDist {
			best, bestDist, found = s, d, true
		}
	}
	for i, f := range n.fingers {
		if n.fingerOK[i] {
			consider(f)
		}
	}
	for _, s := range n.succs {
		consider(s)
	}
	return best, found
}

// forgetFinger drops fingers that point at s after s failed to answer; the
// round-robin refresh finds their replacements.
func (n *Node) forgetFinger(s Server) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range n.fingers {
		if n.fingerOK[i] && n.fingers[i].same(s) {
			n.fingerOK[i] = false
		}
	}
}
