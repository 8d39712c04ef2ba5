package membership

import (
	"fmt"
	"log/slog"

	"github.com/hashicorp/memberlist"
)

// State is a member's liveness as this node last heard it.
type State int

const (
	// StateAlive members answer probes (or have not yet been found not to).
	StateAlive State = iota
	// StateSuspect members failed a probe and will be declared Dead unless they
	// refute within the suspicion timeout. memberlist v0.7.0 keeps
	// suspicion internal (it does not maintain Node.State for live nodes
	// and sends no event), so this package never reports it: a suspect
	// member is reported StateAlive until it is declared dead. The value exists
	// so that State mirrors memberlist's model and callers can switch
	// exhaustively.
	StateSuspect
	// StateDead members were declared failed by the failure detector.
	StateDead
	// StateLeft members announced a graceful departure (Membership.Leave).
	StateLeft
)

// String returns the lower-case state name, for logs and status output.
func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateSuspect:
		return "suspect"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

// Member is a snapshot of one node as gossiped. It is a value: later changes
// to the cluster never alter a Member already returned, and the caller owns
// its Meta map.
type Member struct {
	// Name is the node's unique name (Config.Name).
	Name string
	// Addr is the node's advertised gossip address, "ip:port".
	Addr string
	// Meta is the node's metadata (never nil; empty when the node has none
	// or its metadata could not be decoded).
	Meta map[string]string
	// State is the node's liveness when the snapshot was taken.
	State State
}

// EventKind says what happened to a member.
type EventKind int

const (
	// Joined: a member became alive (first seen, or back after being dead
	// or having left, possibly at a new address). Each node also receives
	// one Joined event for itself at Start.
	Joined EventKind = iota
	// Updated: an alive member's metadata changed.
	Updated
	// Failed: a member was declared dead by the failure detector.
	Failed
	// Left: a member left gracefully with Membership.Leave. A peer that
	// missed the member's leave notice (it is gossiped just before the
	// departure itself) reports Failed instead.
	Left
)

// String returns the lower-case event name, for logs.
func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Updated:
		return "updated"
	case Failed:
		return "failed"
	case Left:
		return "left"
	default:
		return fmt.Sprintf("EventKind(%d)", int(k))
	}
}

// Event is one membership change, delivered in the order this node learned
// of it. Member is the member's snapshot right after the change (StateAlive
// for Joined and Updated, StateDead for Failed, StateLeft for Left).
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// Member is the member it happened to, as of the change.
	Member Member
}

// memberFromNode converts memberlist's view of a node. memberlist's
// Node.State is not maintained for live nodes, so the state is passed in.
// Undecodable metadata is logged and reported as empty.
func memberFromNode(n *memberlist.Node, st State, logger *slog.Logger) (Member, metaFlags) {
	meta, flags, err := decodeMeta(n.Meta)
	if err != nil {
		logger.Warn("membership: undecodable metadata", "member", n.Name, "err", err)
		meta = map[string]string{}
	}
	return Member{Name: n.Name, Addr: n.Address(), Meta: meta, State: st}, flags
}
