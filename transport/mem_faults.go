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
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cuts[linkKey{a, b}] = struct{}{}
	m.cuts[linkKey{b, a}] = struct{}{}
	m.refreshLocked()
}

// CutOneWay cuts only from->to. Datagrams to->from still pass; new stream
// connections in either direction hang (a handshake needs both ways); on
// established ones only the from->to bytes are held.
func (m *MemNetwork) CutOneWay(from, to string) {
	from, to = canonIP(from), canonIP(to)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cuts[linkKey{from, to}] = struct{}{}
	m.refreshLocked()
}

// Heal restores both directions between a and b (cuts only; loss and delay
// rules stay). Held stream bytes are then delivered in order.
func (m *MemNetwork) Heal(a, b string) {
	a, b = canonIP(a), canonIP(b)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cuts, linkKey{a, b})
	delete(m.cuts, linkKey{b, a})
	m.refreshLocked()
}

// HealAll removes every cut, loss and delay rule. Crashed hosts stay crashed
// (see Restart).
func (m *MemNetwork) HealAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.cuts)
	clear(m.loss)
	m.anyLoss.Store(false)
	clear(m.delay)
	m.refreshLocked()
}

// Partition cuts every pair of hosts that are in different groups, in both
// directions. It adds to existing cuts (call HealAll first to replace them);
// hosts in no group are unaffected, and hosts within a group stay connected
// unless cut otherwise.
func (m *MemNetwork) Partition(groups ...[]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, g := range groups {
		for _, other := range groups[i+1:] {
			for _, a := range g {
				for _, b := range other {
					a, b := canonIP(a), canonIP(b)
					if a == b {
						continue
					}
					m.cuts[linkKey{a, b}] = struct{}{}
					m.cuts[linkKey{b, a}] = struct{}{}
				}
			}
		}
	}
	m.refreshLocked()
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
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loss[linkKey{from, to}] = p
	m.anyLoss.Store(true)
}

// SetDelay makes datagrams and stream bytes from->to arrive d later than they
// were sent; new stream connections then take one round trip to establish.
// The delay of stream bytes is fixed when they are written. "" is a wildcard,
// resolved as in SetLoss; d <= 0 is a rule for no delay.
func (m *MemNetwork) SetDelay(from, to string, d time.Duration) {
	d = max(d, 0)
	from, to = canonIP(from), canonIP(to)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delay[linkKey{from, to}] = d
	m.refreshLocked()
}

// refreshLocked pushes rule changes to the live links and wakes dials.
func (m *MemNetwork) refreshLocked() {
	for key, l := range m.links {
		l.update(m.cutLocked(key.from, key.to), m.delayLocked(key.from, key.to))
	}
	m.signalLocked()
}

func (m *MemNetwork) cutLocked(from, to string) bool {
	_, cut := m.cuts[linkKey{from, to}]
	return cut
}

func (m *MemNetwork) delayLocked(from, to string) time.Duration {
	d, _ := lookupRule(m.delay, from, to)
	return d
}

func (m *MemNetwork) lossLocked(from, to string) float64 {
	p, _ := lookupRule(m.loss, from, to)
	return p
}

// lookupRule resolves wildcards, most specific first.
func lookupRule[V any](rules map[linkKey]V, from, to string) (V, bool) {
	var zero V
	if len(rules) == 0 {
		return zero, false
	}
	for _, k := range [...]linkKey{{from, to}, {from, ""}, {"", to}, {"", ""}} {
		if v, ok := rules[k]; ok {
			return v, true
		}
	}
	return zero, false
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
