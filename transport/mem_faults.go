package transport

import "time"

// Fault rules. Hosts are named by literal ip (canonicalised, so "::ffff:10.0.0.1"
// is "10.0.0.1"); rules about hosts that do not exist yet are kept and apply
// once they do. Changing a rule takes effect at once: hanging dials and
// readers holding bytes re-check it.

// Cut cuts both directions between hosts a and b: dials between them hang,
// datagrams are dropped, and bytes on established stream connections are
// held (not lost) until Heal.
func (m *MemNetwork) Cut(a, b string) {
	a, b = canonIP(a), canonIP(b)
	m.editRules(func(r *faultRules) {
		r.cuts[linkKey{a, b}] = struct{}{}
		r.cuts[linkKey{b, a}] = struct{}{}
	})
}

// CutOneWay cuts only from->to. Datagrams to->from still pass; new stream
// connections in either direction hang (a handshake needs both ways); on
// established ones only the from->to bytes are held.
func (m *MemNetwork) CutOneWay(from, to string) {
	from, to = canonIP(from), canonIP(to)
	m.editRules(func(r *faultRules) {
		r.cuts[linkKey{from, to}] = struct{}{}
	})
}

// Heal restores both directions between a and b (cuts only; loss and delay
// rules stay). Held stream bytes are then delivered in order.
func (m *MemNetwork) Heal(a, b string) {
	a, b = canonIP(a), canonIP(b)
	m.editRules(func(r *faultRules) {
		delete(r.cuts, linkKey{a, b})
		delete(r.cuts, linkKey{b, a})
	})
}

// HealAll removes every cut, loss and delay rule. Crashed hosts stay crashed
// (see Restart).
func (m *MemNetwork) HealAll() {
	m.editRules(func(r *faultRules) {
		clear(r.cuts)
		clear(r.loss)
		clear(r.delay)
	})
}

// Partition cuts every pair of hosts that are in different groups, in both
// directions. It adds to existing cuts (call HealAll first to replace them);
// hosts in no group are unaffected, and hosts within a group stay connected
// unless cut otherwise.
func (m *MemNetwork) Partition(groups ...[]string) {
	m.editRules(func(r *faultRules) {
		for i, g := range groups {
			for _, other := range groups[i+1:] {
				for _, a := range g {
					for _, b := range other {
						a, b := canonIP(a), canonIP(b)
						if a == b {
							continue
						}
						r.cuts[linkKey{a, b}] = struct{}{}
						r.cuts[linkKey{b, a}] = struct{}{}
					}
				}
			}
		}
	})
}

// SetLoss makes a fraction p (clamped to [0, 1]) of datagrams from->to vanish,
// and the same fraction of unary RPCs made through a Pool on host from to a
// target on host to (see Pool). Stream bytes are never lost. "" as from or to
// is a wildcard for any host; the most specific rule wins: (from, to), then
// (from, ""), then ("", to), then ("", ""). p = 0 is a rule too, so it can
// exempt a pair from a wildcard.
func (m *MemNetwork) SetLoss(from, to string, p float64) {
	p = min(max(p, 0), 1)
	from, to = canonIP(from), canonIP(to)
	m.editRules(func(r *faultRules) {
		r.loss[linkKey{from, to}] = p
	})
}

// SetDelay makes datagrams and stream bytes from->to arrive d later than they
// were sent; new stream connections then take one round trip to establish.
// The delay of stream bytes is fixed when they are written. "" is a wildcard,
// resolved as in SetLoss; d <= 0 is a rule for no delay.
func (m *MemNetwork) SetDelay(from, to string, d time.Duration) {
	d = max(d, 0)
	from, to = canonIP(from), canonIP(to)
	m.editRules(func(r *faultRules) {
		r.delay[linkKey{from, to}] = d
	})
}

// editRules publishes a copy of the rules changed by edit, pushes the change
// to the live links and wakes dials that wait for reachability to change.
func (m *MemNetwork) editRules(edit func(*faultRules)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rules.Load().clone()
	edit(r)
	m.rules.Store(r)
	m.linksMu.Lock()
	for key, l := range m.links {
		l.update(r.cut(key.from, key.to), r.delayOf(key.from, key.to))
	}
	m.linksMu.Unlock()
	m.signalLocked()
}

// lose decides whether one message with loss probability p is dropped,
// drawing from the seeded source only when the outcome is uncertain.
func (m *MemNetwork) lose(p float64) bool {
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	}
	m.rngMu.Lock()
	defer m.rngMu.Unlock()
	return m.rng.Float64() < p
}
