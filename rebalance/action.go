package rebalance

import (
	"fmt"

	"github.com/concord-kv/concord/rangegroup"
)

// ActionKind is what an Action does to a range.
type ActionKind int

const (
	// None: nothing to do now (placement holds, or the next step waits on
	// something, as Action.Reason says).
	None ActionKind = iota
	// Split the range at position Action.At.
	Split
	// AddLearner adds a learner on Action.Node (Action.Changes holds the
	// one change).
	AddLearner
	// Promote makes Action.Node's caught-up learner a voter; Changes may
	// also remove one unwanted voter, in the same joint change.
	Promote
	// RemoveReplica removes Action.Node's replica.
	RemoveReplica
	// TransferLeadership hands the range's leadership to Action.Node.
	TransferLeadership
	// Merge makes the range absorb its right neighbour, Action.With.
	Merge
	// AbortMerge unfreezes the range, frozen for a merge into Action.With
	// that no longer fits the placement.
	AbortMerge
)

var actionKindNames = [...]string{
	None:               "none",
	Split:              "split",
	AddLearner:         "add_learner",
	Promote:            "promote",
	RemoveReplica:      "remove_replica",
	TransferLeadership: "transfer_leadership",
	Merge:              "merge",
	AbortMerge:         "abort_merge",
}

// String returns the kind's name, as used in metric labels and logs.
func (k ActionKind) String() string {
	if k >= 0 && int(k) < len(actionKindNames) {
		return actionKindNames[k]
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is the single next step for one range.
type Action struct {
	Kind ActionKind
	// At is the split position (Split only).
	At uint64
	// Changes is the replica change to propose, as one ConfChangeV2
	// (AddLearner, Promote, RemoveReplica).
	Changes []rangegroup.ReplicaChange
	// Node is the node the action is about: the new learner, the promoted
	// learner, the removed replica or the new leader.
	Node string
	// With is the other range of a Merge (the one absorbed) or an
	// AbortMerge (the one it was to merge into).
	With uint64
	// Reason says why, for logs and tests.
	Reason string
}

// String describes the action for logs.
func (a Action) String() string {
	switch a.Kind {
	case Split:
		return fmt.Sprintf("split at %d (%s)", a.At, a.Reason)
	case Merge, AbortMerge:
		return fmt.Sprintf("%s with range %d (%s)", a.Kind, a.With, a.Reason)
	case None:
		return fmt.Sprintf("none (%s)", a.Reason)
	default:
		return fmt.Sprintf("%s %s (%s)", a.Kind, a.Node, a.Reason)
	}
}
