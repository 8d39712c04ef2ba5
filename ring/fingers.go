package ring

import "context"

// fixFinger refreshes one finger per round, round-robin. finger[i] is the
// owner of self+2^i. Fingers whose targets fall in the arc the found owner
// already covers get the same owner, so a ring of N nodes needs about
// log2(N) rounds, not HashBits, to refresh every finger.
func (n *Node) fixFinger(ctx context.Context) {
	n.mu.Lock()
	i := n.nextFinger
	n.mu.Unlock()
	target := (n.self.Id + uint64(1)<<uint(i)) & n.cfg.mask
	owner, _, err := n.findFrom(ctx, n.Self(), target, nil)
	n.stats.lookups.Add(1)

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
		n.fingers[j], n.fingerOK[j] = owner, owner.Id != n.self.Id
		j++
	}
	n.nextFinger = j % n.cfg.bits
}
