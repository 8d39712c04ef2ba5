package concord

import (
	"fmt"
	"time"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// A transaction's Compares and Ops are opaque values built by
// constructors. Front ends that carry a transaction over a wire read them
// back with Spec; the serving node rebuilds them with the constructors.

// CompareTarget is what a compare tests.
type CompareTarget int

// The compare targets, one per Compare constructor.
const (
	TargetValue          CompareTarget = iota + 1 // CompareValue
	TargetVersion                                 // CompareVersion
	TargetCreateRevision                          // CompareCreateRevision
	TargetModRevision                             // CompareModRevision
	TargetExists                                  // KeyExists
	TargetMissing                                 // KeyMissing
)

// CompareSpec is the content of a Compare.
type CompareSpec struct {
	Key    []byte
	Target CompareTarget
	// Op is the operator; unused by TargetExists and TargetMissing.
	Op CompareOp
	// Value is the operand of TargetValue; Number that of the version and
	// revision targets.
	Value  []byte
	Number uint64
}

// Spec returns what c tests. The zero Compare and one built with an
// unknown operator return an error wrapping ErrInvalidArgument.
func (c Compare) Spec() (CompareSpec, error) {
	switch {
	case c.err != nil:
		return CompareSpec{}, c.err
	case c.c == nil:
		return CompareSpec{}, fmt.Errorf("%w: the zero Compare", ErrInvalidArgument)
	}
	s := CompareSpec{Key: c.c.GetKey(), Value: c.c.GetValue(), Number: c.c.GetNumber()}
	switch c.c.GetTarget() {
	case kvpb.Compare_VALUE:
		s.Target = TargetValue
	case kvpb.Compare_VERSION:
		s.Target = TargetVersion
	case kvpb.Compare_CREATE_REVISION:
		s.Target = TargetCreateRevision
	case kvpb.Compare_MOD_REVISION:
		s.Target = TargetModRevision
	case kvpb.Compare_EXISTS:
		return CompareSpec{Key: s.Key, Target: TargetExists}, nil
	case kvpb.Compare_NOT_EXISTS:
		return CompareSpec{Key: s.Key, Target: TargetMissing}, nil
	default:
		return CompareSpec{}, fmt.Errorf("%w: unknown compare target %v", ErrInvalidArgument, c.c.GetTarget())
	}
	switch c.c.GetOp() {
	case kvpb.Compare_EQUAL:
		s.Op = CmpEqual
	case kvpb.Compare_NOT_EQUAL:
		s.Op = CmpNotEqual
	case kvpb.Compare_LESS:
		s.Op = CmpLess
	case kvpb.Compare_GREATER:
		s.Op = CmpGreater
	default:
		return CompareSpec{}, fmt.Errorf("%w: unknown compare operator %v", ErrInvalidArgument, c.c.GetOp())
	}
	return s, nil
}

// OpKind is what a transaction op does.
type OpKind int

// The op kinds, one per Op constructor.
const (
	OpKindPut    OpKind = iota + 1 // OpPut
	OpKindDelete                   // OpDelete
	OpKindGet                      // OpGet
)

// OpSpec is the content of an Op.
type OpSpec struct {
	Kind OpKind
	Key  []byte
	// Value, TTL and KeepTTL are a put's value and options (WithTTL's
	// duration, WithKeepTTL); a TTL of 0 without KeepTTL clears the
	// key's expiry, as WithTTL(0) and no option both do.
	Value   []byte
	TTL     time.Duration
	KeepTTL bool
}

// Spec returns what op does. The zero Op and one built with bad options
// return the error (wrapping ErrInvalidArgument) the transaction would
// fail with.
func (op Op) Spec() (OpSpec, error) {
	switch {
	case op.err != nil:
		return OpSpec{}, op.err
	case op.op == nil:
		return OpSpec{}, fmt.Errorf("%w: the zero Op", ErrInvalidArgument)
	}
	switch o := op.op.GetOp().(type) {
	case *kvpb.TxnOp_Put:
		p := o.Put
		return OpSpec{Kind: OpKindPut, Key: p.GetKey(), Value: p.GetValue(), TTL: time.Duration(p.GetTtl()), KeepTTL: p.GetKeepTtl()}, nil
	case *kvpb.TxnOp_Delete:
		return OpSpec{Kind: OpKindDelete, Key: o.Delete.GetKey()}, nil
	case *kvpb.TxnOp_Get:
		return OpSpec{Kind: OpKindGet, Key: o.Get.GetKey()}, nil
	}
	return OpSpec{}, fmt.Errorf("%w: an op of unknown kind", ErrInvalidArgument)
}
