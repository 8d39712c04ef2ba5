package ringsim

import (
	"fmt"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/ring"
)

// maxHosts is how many nodes one run can ever start (build-up plus churn
// joins): hosts get addresses 127.3.x.y with x < 250 and 1 <= y <= 250, and
// an address is never reused, so a late message to a crashed node cannot
// reach its successor on the same host.
const maxHosts = 250 * 250

// ringPort is the port every node serves ring RPCs and gossip on.
const ringPort = 7000

// simNode is one simulated node and what the simulation knows about it.
type simNode struct {
	name string
	ip   string
	addr string
	node *concord.RingNode
	ring *ring.Node
}

func hostIP(i int) string { return fmt.Sprintf("127.3.%d.%d", i/250, i%250+1) }

func nodeName(i int) string { return fmt.Sprintf("n%04d", i) }

// view reads the node's pointers. Each call takes the node's lock briefly;
// a snapshot of many nodes is therefore not atomic (see monitor).
func (s *simNode) view() nodeView {
	v := nodeView{name: s.name, id: s.ring.Id(), member: s.ring.IsMember()}
	v.succs = s.ring.Successors()
	v.pred, v.hasPred = s.ring.Predecessor()
	v.rng, v.hasRange = s.ring.Range()
	return v
}

// nodeView is a node's pointers as read by the observer.
type nodeView struct {
	name     string
	id       uint64
	member   bool
	succs    []ring.Server
	pred     ring.Server
	hasPred  bool
	rng      ring.Range
	hasRange bool
}
