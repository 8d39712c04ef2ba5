package concord

import (
	"sync"
	"time"

	"github.com/concord-kv/concord/membership"
	"github.com/concord-kv/concord/rebalance"
)

// memberView is the rebalancer's view of the cluster, built from gossip
// events: every ring member ever seen, with when it went down. Gossip
// forgets dead members after a while; placement must not, or a crashed
// node's replicas would be replaced before the grace period is over.
type memberView struct {
	self string

	mu      sync.Mutex
	members map[string]*viewMember
}

type viewMember struct {
	id        uint64
	alive     bool
	left      bool
	downSince time.Time
}

// forgetAfter is how long a member that is down stays in the view.
const forgetAfter = 24 * time.Hour

func newMemberView(self string) *memberView {
	return &memberView{self: self, members: make(map[string]*viewMember)}
}

// observe records one membership event.
func (v *memberView) observe(ev membership.Event) {
	s, ok := ringServer(ev.Member)
	if !ok {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.members[s.Name]
	if m == nil {
		m = &viewMember{}
		v.members[s.Name] = m
	}
	m.id = s.Id
	switch ev.Kind {
	case membership.Failed:
		if m.alive || m.downSince.IsZero() {
			m.downSince = time.Now()
		}
		m.alive = false
	case membership.Left:
		m.alive, m.left = false, true
		if m.downSince.IsZero() {
			m.downSince = time.Now()
		}
	default:
		m.alive, m.left, m.downSince = true, false, time.Time{}
	}
}

// Members implements rebalance.View.
func (v *memberView) Members() []rebalance.Member {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]rebalance.Member, 0, len(v.members))
	for name, m := range v.members {
		if !m.alive && time.Since(m.downSince) > forgetAfter {
			delete(v.members, name)
			continue
		}
		out = append(out, rebalance.Member{Name: name, ID: m.id, Alive: m.alive, DownSince: m.downSince, Left: m.left})
	}
	return out
}
