package ring

import "slices"

// setSuccessorsLocked installs a new successor list derived from list (a
// successor's answer, nearest first). It keeps the invariants of n.succs:
// entries are cut at the first occurrence of this node (what follows has
// wrapped around the circle), ids are unique, order is clockwise from self,
// and the length is at most SuccessorCount.
func (n *Node) setSuccessorsLocked(list []Server) {
	clean := make([]Server, 0, min(len(list), n.cfg.SuccessorCount))
	for _, s := range list {
		if s.Id == n.self.Id {
			break
		}
		if slices.ContainsFunc(clean, func(c Server) bool { return c.Id == s.Id }) {
			continue
		}
		clean = append(clean, s)
	}
	slices.SortStableFunc(clean, func(a, b Server) int {
		da, db := distance(n.self.Id, a.Id, n.cfg.bits), distance(n.self.Id, b.Id, n.cfg.bits)
		switch {
		case da < db:
			return -1
		case da > db:
			return 1
		}
		return 0
	})
	if len(clean) > n.cfg.SuccessorCount {
		clean = clean[:n.cfg.SuccessorCount]
	}
	oldFirst, hadFirst := n.firstSuccLocked()
	n.succs = clean
	if first, ok := n.firstSuccLocked(); ok != hadFirst || !first.same(oldFirst) {
		n.stats.successorChanges.Add(1)
		n.cfg.log.Debug("successor changed", "name", n.self.Name, "successor", first.String())
	}
}

func (n *Node) firstSuccLocked() (Server, bool) {
	if len(n.succs) == 0 {
		return Server{}, false
	}
	return n.succs[0], true
}

// setPredLocked adopts p as predecessor; the caller emits the range change.
func (n *Node) setPredLocked(p Server) {
	if !n.hasPred || !n.pred.same(p) {
		n.stats.predecessorChanges.Add(1)
	}
	n.pred, n.hasPred = p, true
	n.predSilent = 0
}

// considerPredLocked is Zave's rectify: c believes it is this node's
// predecessor. It is adopted if there is no predecessor or c lies between
// the current one and this node. A candidate with this node's id but
// another name is a duplicate id and is never adopted.
func (n *Node) considerPredLocked(c Server) {
	switch {
	case c.Id == n.self.Id:
		if c.Name != n.self.Name {
			n.cfg.log.Warn("ignoring node with a duplicate id", "name", n.self.Name, "other", c.String())
		}
	case n.hasPred && n.pred.same(c):
		n.predSilent = 0
	case !n.hasPred || between(n.pred.Id, c.Id, n.self.Id):
		n.setPredLocked(c)
		n.emitLocked()
	}
}

// forgetLocked removes every pointer to s: a failed or departed node. On
// suspicion alone (MarkFailed) the last successor is kept: an empty list
// makes a node adopt its predecessor as successor, and a false report
// would then split off a small cycle, which Chord cannot merge back.
// Stabilization drops it once it refuses or stays silent.
func (n *Node) forgetLocked(s Server, keepLast bool) {
	matches := func(o Server) bool {
		return o.Name == s.Name && (s.Address == "" || o.Address == s.Address)
	}
	if slices.ContainsFunc(n.succs, matches) {
		rest := slices.DeleteFunc(slices.Clone(n.succs), matches)
		if len(rest) > 0 || !keepLast {
			n.setSuccessorsLocked(rest)
		}
	}
	if n.hasPred && matches(n.pred) {
		n.hasPred = false
	}
	for i := range n.fingers {
		if n.fingerOK[i] && matches(n.fingers[i]) {
			n.fingerOK[i] = false
		}
	}
}

// MarkFailed tells the node that s has failed (for example because a
// failure detector declared it dead), so every pointer to it goes at once
// instead of after RPC timeouts. s.Address may be empty to match any
// incarnation of the name; otherwise only that incarnation is removed, so a
// node restarted at a new address is not forgotten by a late report about
// its old one.
func (n *Node) MarkFailed(s Server) {
	n.mu.Lock()
	member := n.phase == phaseMember
	if member && s.Name != n.self.Name {
		n.forgetLocked(s, true)
		n.emitLocked()
	}
	n.mu.Unlock()
	// Closing the connection may block on the network: never under n.mu.
	if member && s.Address != "" && s.Name != n.self.Name {
		n.pool.Drop(s.Address)
	}
}
