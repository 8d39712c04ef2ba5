package rangegroup

import (
	"errors"
	"fmt"

	"github.com/concord-kv/concord/storage/storagepb"
)

// Errors callers branch on. NotLeaderError and RangeMismatchError wrap
// ErrNotLeader and kv.ErrRangeMismatch so errors.Is works on them.
var (
	// ErrNotLeader: the request needs the range's leader and this replica
	// is not it. Retry at NotLeaderError.Leader.
	ErrNotLeader = errors.New("not the range leader")
	// ErrRangeNotFound: this node has no replica of the range.
	ErrRangeNotFound = errors.New("range not found on this node")
	// ErrUnavailable: the range cannot make progress now (no quorum, no
	// leader, the replica is being removed or not yet initialized).
	ErrUnavailable = errors.New("range unavailable")
	// ErrTimeout: the caller's deadline passed before the outcome was
	// known. A timed-out write may still be applied later.
	ErrTimeout = errors.New("timed out")
	// ErrStopped: the Store is closed.
	ErrStopped = errors.New("store stopped")
)

// NotLeaderError says which replica leads the range, when known.
type NotLeaderError struct {
	RangeID uint64
	// Leader is the node name of the leader, empty when unknown.
	Leader string
	// Descriptor is this replica's view of the range.
	Descriptor *storagepb.RangeDescriptor
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return fmt.Sprintf("range %d: not the leader (leader unknown)", e.RangeID)
	}
	return fmt.Sprintf("range %d: not the leader (leader is %s)", e.RangeID, e.Leader)
}

// Unwrap makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// RangeMismatchError answers a request for a key outside the span of the
// replica it reached, with that replica's current descriptor.
type RangeMismatchError struct {
	Descriptor *storagepb.RangeDescriptor
	err        error
}

func (e *RangeMismatchError) Error() string {
	d := e.Descriptor
	return fmt.Sprintf("range %d (%d, %d] generation %d: key outside the range", d.GetRangeId(), d.GetStart(), d.GetEnd(), d.GetGeneration())
}

// Unwrap makes errors.Is(err, kv.ErrRangeMismatch) true.
func (e *RangeMismatchError) Unwrap() error { return e.err }
