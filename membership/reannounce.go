package membership

import (
	"context"
	"time"
)

// A node restarted under its old name at a new address is refused by
// memberlist as a name conflict until its previous incarnation has been dead
// for DeadNodeReclaimTime, and memberlist does not retry: the newcomer would
// only be accepted at its next push/pull (up to PushPullInterval, 30s on a
// LAN). So each conflict schedules one re-announcement, due once the old
// incarnation should be dead and reclaimable (DetectionTime +
// DeadNodeReclaimTime + one probe interval after the conflict was noticed):
//
//   - a conflict about this node's own name (the cluster still gossips this
//     node's previous incarnation) re-joins all seeds and live members,
//     pushing this node's current address to them;
//   - a conflict about another name joins the newcomer's address, pulling it
//     in from this side.
//
// A join that is refused again produces a new conflict and so a new attempt;
// two live nodes really sharing a name therefore keep producing warnings at
// that slow pace, which is what such a misconfiguration deserves.

// reannounceSeeds is the pending key meaning "re-join every seed".
const reannounceSeeds = ""

// noteConflict records a conflict seen by memberlist. It runs inside
// memberlist's callbacks with memberlist's node lock held, so it only takes
// m.mu and pokes the loop without blocking. It reports whether this conflict
// scheduled something new (the caller logs those at warning level only).
func (m *Membership) noteConflict(name, otherAddr string) bool {
	key := otherAddr
	if name == m.name {
		key = reannounceSeeds
	}
	m.mu.Lock()
	if m.shutdown || m.left {
		m.mu.Unlock()
		return false
	}
	if _, ok := m.pending[key]; ok {
		m.mu.Unlock()
		return false
	}
	m.pending[key] = time.Now()
	m.mu.Unlock()
	select {
	case m.poke <- struct{}{}:
	default:
	}
	return true
}

// reannounceDelay is how long after a conflict the re-announcement is due.
func (m *Membership) reannounceDelay() time.Duration {
	return m.DetectionTime() + deadNodeReclaimTime(m.timing) + m.timing.ProbeInterval
}

// nextReannounce returns when the earliest pending re-announcement is due,
// or the zero time if none is pending.
func (m *Membership) nextReannounce() time.Time {
	delay := m.reannounceDelay()
	m.mu.Lock()
	defer m.mu.Unlock()
	var next time.Time
	for _, noticed := range m.pending {
		if due := noticed.Add(delay); next.IsZero() || due.Before(next) {
			next = due
		}
	}
	return next
}

// reannounce performs the re-announcements due at now, and waits for them.
func (m *Membership) reannounce(now time.Time) {
	delay := m.reannounceDelay()
	var keys []string
	m.mu.Lock()
	for k, noticed := range m.pending {
		if !now.Before(noticed.Add(delay)) {
			keys = append(keys, k)
			delete(m.pending, k)
		}
	}
	m.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	live := m.liveAddrs()
	var addrs []string
	for _, k := range keys {
		switch {
		case k == reannounceSeeds:
			addrs = append(addrs, m.seedAddrs()...)
			for a := range live {
				if a != m.adverts {
					addrs = append(addrs, a)
				}
			}
		case !live[k]:
			addrs = append(addrs, k)
		}
	}
	addrs = dedupe(addrs)
	if len(addrs) == 0 {
		return
	}
	n, err := m.join(context.Background(), addrs, m.noRejoin)
	m.logger.Debug("membership: re-announced after name conflict", "addrs", addrs, "contacted", n, "err", err)
}

// dedupe removes repeated strings, keeping the first occurrence's order.
func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
