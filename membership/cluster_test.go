package membership

import (
	"fmt"
	"maps"
	"testing"
	"time"
)

func TestJoinSeesEveryoneWithMetadataAndUpdates(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 1)
	nodes := c.startN(ctx, 4)

	for _, o := range nodes {
		for _, n := range nodes {
			got, ok := o.m.Member(n.name)
			if !ok {
				t.Fatalf("%s: Member(%s) missing", o.name, n.name)
			}
			if got.Addr != n.addr || got.State != StateAlive || !maps.Equal(got.Meta, map[string]string{"ip": n.ip}) {
				t.Fatalf("%s: Member(%s) = %+v, want addr %s meta ip=%s alive", o.name, n.name, got, n.addr, n.ip)
			}
			if n != o {
				if _, ok := o.rec.find(Joined, n.name, nil); !ok {
					waitUntil(ctx, t, fmt.Sprintf("%s receives Joined for %s", o.name, n.name), func() bool {
						_, ok := o.rec.find(Joined, n.name, nil)
						return ok
					})
				}
			}
		}
		if self := o.m.LocalMember(); self.Name != o.name || self.Addr != o.addr || self.State != StateAlive {
			t.Fatalf("%s: LocalMember = %+v", o.name, self)
		}
	}

	newMeta := map[string]string{"ip": nodes[1].ip, "role": "changed"}
	if err := nodes[1].m.UpdateMeta(ctx, newMeta); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	if got := nodes[1].m.LocalMember().Meta; !maps.Equal(got, newMeta) {
		t.Fatalf("LocalMember meta after update = %v", got)
	}
	for _, o := range nodes {
		if o == nodes[1] {
			continue
		}
		waitUntil(ctx, t, o.name+" receives Updated for n2", func() bool {
			_, ok := o.rec.find(Updated, "n2", func(m Member) bool { return maps.Equal(m.Meta, newMeta) })
			return ok
		})
		if got, _ := o.m.Member("n2"); !maps.Equal(got.Meta, newMeta) {
			t.Fatalf("%s: Member(n2).Meta = %v, want %v", o.name, got.Meta, newMeta)
		}
	}
}

func TestCrashIsFailedWithinTwiceDetectionTime(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 2)
	nodes := c.startN(ctx, 5)
	victim, survivors := nodes[4], nodes[:4]

	dt := survivors[0].m.DetectionTime()
	crashedAt := time.Now()
	c.net.Crash(victim.ip)
	_ = victim.m.Shutdown()
	deadline := crashedAt.Add(2 * dt)

	for _, s := range survivors {
		waitUntil(ctx, t, s.name+" receives Failed for "+victim.name, func() bool {
			_, ok := s.rec.find(Failed, victim.name, nil)
			return ok
		})
	}
	for _, s := range survivors {
		e, _ := s.rec.find(Failed, victim.name, nil)
		if e.at.After(deadline) {
			t.Errorf("%s: Failed for %s after %v, want within 2*DetectionTime = %v",
				s.name, victim.name, e.at.Sub(crashedAt), 2*dt)
		}
		if e.Member.State != StateDead || e.Member.Addr != victim.addr {
			t.Errorf("%s: Failed member = %+v", s.name, e.Member)
		}
		if n := s.rec.count(Left, victim.name); n != 0 {
			t.Errorf("%s: %d Left events for a crashed node", s.name, n)
		}
		if _, ok := s.m.Member(victim.name); ok {
			t.Errorf("%s: crashed %s still a live member", s.name, victim.name)
		}
	}
}

func TestLeaveGivesLeftNotFailed(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 3)
	nodes := c.startN(ctx, 3)
	leaver, rest := nodes[2], nodes[:2]

	if err := leaver.m.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if st := leaver.m.LocalMember().State; st != StateLeft {
		t.Fatalf("LocalMember().State after Leave = %v", st)
	}
	if err := leaver.m.UpdateMeta(ctx, nil); err != ErrLeft {
		t.Fatalf("UpdateMeta after Leave = %v, want ErrLeft", err)
	}
	_ = leaver.m.Shutdown()

	for _, r := range rest {
		waitUntil(ctx, t, r.name+" receives Left for "+leaver.name, func() bool {
			_, ok := r.rec.find(Left, leaver.name, nil)
			return ok
		})
		e, _ := r.rec.find(Left, leaver.name, nil)
		if e.Member.State != StateLeft || e.Member.Meta["ip"] != leaver.ip {
			t.Errorf("%s: Left member = %+v", r.name, e.Member)
		}
		if n := r.rec.count(Failed, leaver.name); n != 0 {
			t.Errorf("%s: %d Failed events for a node that left", r.name, n)
		}
		if n := r.rec.count(Updated, leaver.name); n != 0 {
			t.Errorf("%s: %d Updated events caused by the leave notice", r.name, n)
		}
	}
	waitConverged(ctx, t, rest, rest)
}

func TestPartitionHealsBySeedRejoin(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 4)
	nodes := c.startN(ctx, 4)
	left, right := nodes[:2], nodes[2:]

	c.net.Partition([]string{left[0].ip, left[1].ip}, []string{right[0].ip, right[1].ip})
	waitConverged(ctx, t, left, left)
	waitConverged(ctx, t, right, right)
	for _, side := range [][2][]*testNode{{left, right}, {right, left}} {
		for _, o := range side[0] {
			for _, other := range side[1] {
				waitUntil(ctx, t, o.name+" receives Failed for "+other.name, func() bool {
					_, ok := o.rec.find(Failed, other.name, nil)
					return ok
				})
			}
		}
	}

	c.net.HealAll()
	waitConverged(ctx, t, nodes, nodes)
	for _, side := range [][2][]*testNode{{left, right}, {right, left}} {
		for _, o := range side[0] {
			for _, other := range side[1] {
				waitUntil(ctx, t, o.name+" receives Joined for "+other.name+" again", func() bool {
					return o.rec.count(Joined, other.name) >= 2
				})
			}
		}
	}
}

func TestRestartWithSameNameAtNewAddress(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newCluster(t, 5)
	nodes := c.startN(ctx, 3)
	old := nodes[2]

	// Crash and come straight back elsewhere, before anyone noticed: the
	// cluster first refuses the new address as a name conflict, then
	// accepts it once the old incarnation has been declared dead.
	c.net.Crash(old.ip)
	_ = old.m.Shutdown()
	reborn := c.start(old.name, hostIP(13), true, func(cfg *Config) {
		cfg.Seeds = []string{nodes[0].addr}
	})
	if _, err := reborn.m.Join(ctx, nodes[0].addr); err != nil {
		t.Fatalf("Join after restart: %v", err)
	}
	for _, o := range nodes[:2] {
		waitUntil(ctx, t, o.name+" sees "+old.name+" at "+reborn.addr, func() bool {
			m, ok := o.m.Member(old.name)
			return ok && m.Addr == reborn.addr
		})
		waitUntil(ctx, t, o.name+" receives Joined for the new address", func() bool {
			_, ok := o.rec.find(Joined, old.name, func(m Member) bool {
				return m.Addr == reborn.addr && m.Meta["ip"] == reborn.ip
			})
			return ok
		})
	}
	waitConverged(ctx, t, []*testNode{nodes[0], nodes[1], reborn}, []*testNode{nodes[0], nodes[1], reborn})
}
