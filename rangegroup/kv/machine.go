package kv

import (
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// Machine executes commands and reads against a range's state. It holds no
// state of its own beyond configuration, so one Machine may serve every
// range of a node and be used from many goroutines at once.
type Machine struct {
	// Limits bounds the input accepted. The zero value means
	// DefaultLimits(); every replica must use the same limits.
	Limits Limits
	// Position maps a user key to its ring position. The caller applies
	// HashTag, the ring's hash and its mask; it must be deterministic and
	// the same on every replica.
	Position func(key []byte) uint64
}

// limits returns the effective limits, checking them.
func (m *Machine) limits() (Limits, error) {
	l := m.Limits
	if l == (Limits{}) {
		l = DefaultLimits()
	}
	if err := l.Check(); err != nil {
		return l, err
	}
	if m.Position == nil {
		return l, invalid(ErrInvalidArgument, "machine has no Position function")
	}
	return l, nil
}

// Validate checks a write command against the machine's effective limits
// (see Limits.Validate); callers run it before proposing, so that bad
// input is refused without a trip through the log.
func (m *Machine) Validate(req *kvpb.Request) error {
	l, err := m.limits()
	if err != nil {
		return fmt.Errorf("kv: validate: %w", err)
	}
	return l.Validate(req)
}

// Apply executes the write command req, the command of revision rev (every
// key it writes gets mod_revision rev; revisions of a range's commands
// grow with their log order), at
// state machine time now (unix nanos, already max(stamp, previous)).
//
// Outcomes are results, not errors: bad input, a key outside arc
// (RANGE_MISMATCH), a failed condition or a missing key are reported in
// the Response, and whenever its code is not OK nothing was written. A
// non-nil error means the machine is misconfigured, rev is 0, or the Store
// failed or holds a corrupt record; the Store may then hold part of the
// command's writes and must be discarded.
func (m *Machine) Apply(s Store, arc Arc, rev uint64, now int64, req *kvpb.Request) (*kvpb.Response, error) {
	l, err := m.limits()
	if err != nil {
		return nil, fmt.Errorf("kv: apply: %w", err)
	}
	if rev == 0 {
		return nil, fmt.Errorf("kv: apply: %w", invalid(ErrInvalidArgument, "revision 0"))
	}
	if err := l.Validate(req); err != nil {
		return &kvpb.Response{Code: CodeOf(err), Message: detailOf(err), Revision: rev}, nil
	}
	if err := m.checkArc(arc, RequestKeys(req)); err != nil {
		return &kvpb.Response{Code: CodeOf(err), Message: detailOf(err), Revision: rev}, nil
	}
	if rd, ok := req.GetOp().(*kvpb.Request_Read); ok {
		rr, err := m.read(l, s, arc, now, rd.Read)
		if err != nil {
			return nil, err
		}
		return &kvpb.Response{Code: rr.Code, Message: rr.Message, Revision: rev, Read: rr}, nil
	}
	x := &exec{view: newView(m, s, now), rev: rev}
	resp, err := x.run(req)
	if err != nil {
		return nil, err
	}
	resp.Revision = rev
	if x.aborted {
		return resp, nil
	}
	if err := x.view.commit(s); err != nil {
		return nil, fmt.Errorf("kv: apply revision %d: %w", rev, err)
	}
	return resp, nil
}

// Read executes the read req against r at time now; keys expired at now
// are invisible. Like Apply, outcomes go in the ReadResponse and a non-nil
// error means misconfiguration or a Reader failure.
func (m *Machine) Read(r Reader, arc Arc, now int64, req *kvpb.ReadRequest) (*kvpb.ReadResponse, error) {
	l, err := m.limits()
	if err != nil {
		return nil, fmt.Errorf("kv: read: %w", err)
	}
	if err := l.ValidateRead(req); err != nil {
		return &kvpb.ReadResponse{Code: CodeOf(err), Message: detailOf(err)}, nil
	}
	if err := m.checkArc(arc, ReadKeys(req)); err != nil {
		return &kvpb.ReadResponse{Code: CodeOf(err), Message: detailOf(err)}, nil
	}
	return m.read(l, r, arc, now, req)
}
