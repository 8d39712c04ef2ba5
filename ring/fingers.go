package ring

import "context"

// fixFinger refreshes one finger per round, round-robin. finger[i] is the
// owner of self+2^i. Fingers whose targets fall in the arc the found owner
// already covers get the same owner, so a ring of N nodes needs about
// log2(N) rounds, not HashBits, to refresh every finger.
//
// A finger that is already known is first checked with one State call to
// it (see fingerStillOwns); only when that fails does the round run a full
// lookup. In a stable ring a round therefore costs one RPC to a node this
// node already talks to, instead of a lookup of about ½·log2(N) hops to
// nodes it otherwise would not (each such hop is a connection to open, and
// keep for a while, on both ends).
func (n *Node) fixFinger(ctx context.Context) {
	n.mu.Lock()
	i := n.nextFinger
	old, known := n.fingers[i], n.fingerOK[i]
	n.mu.Unlock()
	target := (n.self.Id + uint64(1)<<uint(i)) & n.cfg.mask
	owner, err := old, error(nil)
	if !known || !n.fingerStillOwns(ctx, old, target) {
		owner, _, err = n.findFrom(ctx, n.Self(), target, nil)
		n.stats.lookups.Add(1)
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil || n.phase != phaseMember {
		n.nextFinger = (i + 1) % n.cfg.bits
		return
	}
	covered := Range{Start: n.self.Id, End: owner.Id}
	j := i
	for j < n.cfg.bits {
		t := (n.self.Id + uint64(1)<<uint(j)) & n.cfg.mask
		if j > i && (owner.Id == n.self.Id || !covered.Contains(t)) {
			break
		}
		ok := owner.Id != n.self.Id
		if ok && (!n.fingerOK[j] || !n.fingers[j].same(owner)) {
			n.stats.fingersFixed.Add(1)
		}
		n.fingers[j], n.fingerOK[j] = owner, ok
		j++
	}
	n.nextFinger = j % n.cfg.bits
}

// fingerStillOwns reports whether f, asked directly, is a ring member whose
// own range (predecessor, f] contains target: exactly the answer with which
// a lookup of target that reaches f ends there. A node that joined between
// target and f makes itself f's predecessor within a round or two, and the
// check then fails, so the finger moves to it. A finger that does not
// answer fails the check (and is forgotten by the lookup that follows if it
// stays silent).
func (n *Node) fingerStillOwns(ctx context.Context, f Server, target uint64) bool {
	st, err := n.stateOf(ctx, f)
	if err != nil || !st.member {
		return false
	}
	p, ok := st.pred()
	return ok && p.Id != f.Id && (Range{Start: p.Id, End: f.Id}).Contains(target)
}
