package kv

import (
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// Validate checks a write command against the limits without looking at
// any state: callers run it before proposing, and Apply runs it again
// before executing. A nil error means the command is well-formed; otherwise
// the error wraps ErrInvalidKey, ErrValueTooLarge, ErrBatchTooLarge or
// ErrInvalidArgument and names the offending item.
func (l Limits) Validate(req *kvpb.Request) error {
	if req == nil {
		return invalid(ErrInvalidArgument, "no request")
	}
	switch op := req.GetOp().(type) {
	case *kvpb.Request_Put:
		return l.checkPut(op.Put)
	case *kvpb.Request_Delete:
		return l.checkDelete(op.Delete)
	case *kvpb.Request_Touch:
		return l.checkTouch(op.Touch)
	case *kvpb.Request_PutMany:
		items := op.PutMany.GetItems()
		return checkItems(l, "put_many", items, l.checkPut)
	case *kvpb.Request_DeleteMany:
		items := op.DeleteMany.GetItems()
		return checkItems(l, "delete_many", items, l.checkDelete)
	case *kvpb.Request_TouchMany:
		items := op.TouchMany.GetItems()
		return checkItems(l, "touch_many", items, l.checkTouch)
	case *kvpb.Request_Txn:
		return l.checkTxn(op.Txn)
	case *kvpb.Request_Sweep:
		items := op.Sweep.GetItems()
		return checkItems(l, "sweep", items, l.checkSweepItem)
	case *kvpb.Request_Read:
		return l.ValidateRead(op.Read)
	default:
		return invalid(ErrInvalidArgument, "request has no operation")
	}
}

// ValidateRead checks a read against the limits, like Validate.
func (l Limits) ValidateRead(req *kvpb.ReadRequest) error {
	if req == nil {
		return invalid(ErrInvalidArgument, "no read request")
	}
	switch op := req.GetOp().(type) {
	case *kvpb.ReadRequest_Get:
		return l.checkKey(op.Get.GetKey())
	case *kvpb.ReadRequest_Ttl:
		return l.checkKey(op.Ttl.GetKey())
	case *kvpb.ReadRequest_GetMany:
		keys := op.GetMany.GetKeys()
		return checkItems(l, "get_many", keys, l.checkKey)
	case *kvpb.ReadRequest_Scan:
		return l.checkScan(op.Scan)
	default:
		return invalid(ErrInvalidArgument, "read request has no operation")
	}
}

// checkItems checks the count and then each item of a bulk command.
func checkItems[T any](l Limits, what string, items []T, check func(T) error) error {
	if err := l.checkCount(what, len(items)); err != nil {
		return err
	}
	for i, it := range items {
		if err := check(it); err != nil {
			return within(fmt.Sprintf("%s item %d", what, i), err)
		}
	}
	return nil
}

func (l Limits) checkPut(p *kvpb.PutRequest) error {
	if p == nil {
		return invalid(ErrInvalidArgument, "put is empty")
	}
	if err := l.checkKey(p.GetKey()); err != nil {
		return err
	}
	if err := l.checkValue("value", p.GetValue()); err != nil {
		return err
	}
	if err := checkTTL(p.GetTtl()); err != nil {
		return err
	}
	if p.GetKeepTtl() && p.GetTtl() != 0 {
		return invalid(ErrInvalidArgument, "keep_ttl with a ttl")
	}
	return l.checkCondition(p.GetCondition())
}

func (l Limits) checkDelete(d *kvpb.DeleteRequest) error {
	if d == nil {
		return invalid(ErrInvalidArgument, "delete is empty")
	}
	if err := l.checkKey(d.GetKey()); err != nil {
		return err
	}
	return l.checkCondition(d.GetCondition())
}

func (l Limits) checkTouch(t *kvpb.TouchRequest) error {
	if t == nil {
		return invalid(ErrInvalidArgument, "touch is empty")
	}
	if err := l.checkKey(t.GetKey()); err != nil {
		return err
	}
	return checkTTL(t.GetTtl())
}

func (l Limits) checkSweepItem(s *kvpb.SweepItem) error {
	if s == nil {
		return invalid(ErrInvalidArgument, "sweep item is empty")
	}
	if err := l.checkKey(s.GetKey()); err != nil {
		return err
	}
	if s.GetModRevision() == 0 {
		return invalid(ErrInvalidArgument, "sweep item has no mod revision")
	}
	return nil
}

// checkCondition rejects conditions that can never hold together, so a
// contradictory request is reported as a mistake rather than as a
// condition failure that depends on the data.
func (l Limits) checkCondition(c *kvpb.Condition) error {
	if c == nil {
		return nil
	}
	if err := l.checkValue("expected value", c.Value); err != nil {
		return err
	}
	expects := c.Value != nil || c.Version != nil || c.ModRevision != nil || c.GetMustExist()
	if c.GetMustNotExist() && expects {
		return invalid(ErrInvalidArgument, "must_not_exist contradicts the other conditions")
	}
	if c.Version != nil && *c.Version == 0 {
		return invalid(ErrInvalidArgument, "expected version 0 can never match (use must_not_exist)")
	}
	if c.ModRevision != nil && *c.ModRevision == 0 {
		return invalid(ErrInvalidArgument, "expected mod revision 0 can never match (use must_not_exist)")
	}
	return nil
}

func (l Limits) checkTxn(t *kvpb.TxnRequest) error {
	if t == nil {
		return invalid(ErrInvalidArgument, "txn is empty")
	}
	for _, part := range []struct {
		name string
		n    int
	}{{"compares", len(t.GetCompares())}, {"then_ops", len(t.GetThenOps())}, {"else_ops", len(t.GetElseOps())}} {
		if part.n > l.MaxBatchItems {
			return invalid(ErrBatchTooLarge, "txn has %d %s, limit %d", part.n, part.name, l.MaxBatchItems)
		}
	}
	if len(t.GetCompares())+len(t.GetThenOps())+len(t.GetElseOps()) == 0 {
		return invalid(ErrInvalidArgument, "txn is empty")
	}
	for i, c := range t.GetCompares() {
		if err := l.checkCompare(c); err != nil {
			return within(fmt.Sprintf("txn compare %d", i), err)
		}
	}
	for i, op := range t.GetThenOps() {
		if err := l.checkTxnOp(op); err != nil {
			return within(fmt.Sprintf("txn then op %d", i), err)
		}
	}
	for i, op := range t.GetElseOps() {
		if err := l.checkTxnOp(op); err != nil {
			return within(fmt.Sprintf("txn else op %d", i), err)
		}
	}
	return nil
}

func (l Limits) checkCompare(c *kvpb.Compare) error {
	if c == nil {
		return invalid(ErrInvalidArgument, "compare is empty")
	}
	if err := l.checkKey(c.GetKey()); err != nil {
		return err
	}
	if _, ok := kvpb.Compare_Op_name[int32(c.GetOp())]; !ok {
		return invalid(ErrInvalidArgument, "unknown compare op %d", c.GetOp())
	}
	switch c.GetTarget() {
	case kvpb.Compare_VALUE:
		if c.GetNumber() != 0 {
			return invalid(ErrInvalidArgument, "value compare with a number operand")
		}
		return l.checkValue("compare value", c.GetValue())
	case kvpb.Compare_VERSION, kvpb.Compare_CREATE_REVISION, kvpb.Compare_MOD_REVISION:
		if len(c.GetValue()) != 0 {
			return invalid(ErrInvalidArgument, "%v compare with a value operand", c.GetTarget())
		}
	case kvpb.Compare_EXISTS, kvpb.Compare_NOT_EXISTS:
		if c.GetOp() != kvpb.Compare_EQUAL || len(c.GetValue()) != 0 || c.GetNumber() != 0 {
			return invalid(ErrInvalidArgument, "%v compare takes no op or operand", c.GetTarget())
		}
	default:
		return invalid(ErrInvalidArgument, "unknown compare target %d", c.GetTarget())
	}
	return nil
}

func (l Limits) checkTxnOp(op *kvpb.TxnOp) error {
	switch o := op.GetOp().(type) {
	case *kvpb.TxnOp_Put:
		if o.Put.GetCondition() != nil {
			return invalid(ErrInvalidArgument, "put in a txn takes no condition (use compares)")
		}
		return l.checkPut(o.Put)
	case *kvpb.TxnOp_Delete:
		if o.Delete.GetCondition() != nil {
			return invalid(ErrInvalidArgument, "delete in a txn takes no condition (use compares)")
		}
		return l.checkDelete(o.Delete)
	case *kvpb.TxnOp_Get:
		if o.Get == nil {
			return invalid(ErrInvalidArgument, "get is empty")
		}
		return l.checkKey(o.Get.GetKey())
	default:
		return invalid(ErrInvalidArgument, "txn op has no operation")
	}
}

func (l Limits) checkScan(s *kvpb.ScanRequest) error {
	if s == nil {
		return invalid(ErrInvalidArgument, "scan is empty")
	}
	if s.GetLimit() > uint32(l.MaxBatchItems) {
		return invalid(ErrBatchTooLarge, "scan limit %d exceeds %d", s.GetLimit(), l.MaxBatchItems)
	}
	if s.GetAfter() != nil {
		if err := l.checkKey(s.GetAfter().GetKey()); err != nil {
			return within("scan cursor", err)
		}
	}
	if len(s.GetPrefix()) > l.MaxKeySize {
		return invalid(ErrInvalidKey, "scan prefix of %d bytes exceeds %d", len(s.GetPrefix()), l.MaxKeySize)
	}
	return nil
}
