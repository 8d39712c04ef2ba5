package ring

import "errors"

// Errors a caller may branch on with errors.Is. Errors returned by the Node
// wrap these with context.
var (
	// ErrInvalidConfig means the Config cannot be used; the wrapped message
	// names the field.
	ErrInvalidConfig = errors.New("ring: invalid config")
	// ErrNotStarted means Start has not been called (or failed).
	ErrNotStarted = errors.New("ring: node not started")
	// ErrStopped means the node has been stopped or has left.
	ErrStopped = errors.New("ring: node stopped")
	// ErrAlreadyMember means Create or Join was called on a node that is
	// already part of a ring (or is joining one).
	ErrAlreadyMember = errors.New("ring: node is already a ring member")
	// ErrNotMember means the node has not created or joined a ring.
	ErrNotMember = errors.New("ring: node is not a ring member")
	// ErrIDTaken means a live ring member already has this node's id. Two
	// nodes with one id would silently share an arc, so the joiner is
	// refused; pick another Name or an explicit ID.
	ErrIDTaken = errors.New("ring: node id already taken by a live member")
	// ErrNoSeed means Join was given no seed address.
	ErrNoSeed = errors.New("ring: no seed address")
	// ErrLookupFailed means a lookup could not reach the owner of an id
	// within its hop budget or deadline.
	ErrLookupFailed = errors.New("ring: lookup failed")
)
