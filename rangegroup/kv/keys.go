package kv

import "github.com/concord-kv/concord/rangegroup/kv/kvpb"

// checkArc reports ErrRangeMismatch for the first key outside arc.
func (m *Machine) checkArc(arc Arc, keys [][]byte) error {
	for _, k := range keys {
		if pos := m.Position(k); !arc.Contains(pos) {
			return invalid(ErrRangeMismatch, "key %q at position %d is outside (%d, %d]", k, pos, arc.Start, arc.End)
		}
	}
	return nil
}

// RequestKeys lists every key a valid write command names, in request
// order, including compare keys and both transaction branches: the whole
// command must lie in the range whichever branch runs.
func RequestKeys(req *kvpb.Request) [][]byte {
	var keys [][]byte
	switch op := req.GetOp().(type) {
	case *kvpb.Request_Put:
		keys = append(keys, op.Put.GetKey())
	case *kvpb.Request_Delete:
		keys = append(keys, op.Delete.GetKey())
	case *kvpb.Request_Touch:
		keys = append(keys, op.Touch.GetKey())
	case *kvpb.Request_PutMany:
		for _, it := range op.PutMany.GetItems() {
			keys = append(keys, it.GetKey())
		}
	case *kvpb.Request_DeleteMany:
		for _, it := range op.DeleteMany.GetItems() {
			keys = append(keys, it.GetKey())
		}
	case *kvpb.Request_TouchMany:
		for _, it := range op.TouchMany.GetItems() {
			keys = append(keys, it.GetKey())
		}
	case *kvpb.Request_Sweep:
		for _, it := range op.Sweep.GetItems() {
			keys = append(keys, it.GetKey())
		}
	case *kvpb.Request_Txn:
		for _, c := range op.Txn.GetCompares() {
			keys = append(keys, c.GetKey())
		}
		for _, branch := range [][]*kvpb.TxnOp{op.Txn.GetThenOps(), op.Txn.GetElseOps()} {
			for _, o := range branch {
				keys = append(keys, txnOpKey(o))
			}
		}
	case *kvpb.Request_Read:
		keys = ReadKeys(op.Read)
	}
	return keys
}

// ReadKeys lists every key a valid read names. A scan names none: it is
// bounded by the arc itself.
func ReadKeys(req *kvpb.ReadRequest) [][]byte {
	switch op := req.GetOp().(type) {
	case *kvpb.ReadRequest_Get:
		return [][]byte{op.Get.GetKey()}
	case *kvpb.ReadRequest_Ttl:
		return [][]byte{op.Ttl.GetKey()}
	case *kvpb.ReadRequest_GetMany:
		return op.GetMany.GetKeys()
	}
	return nil
}

func txnOpKey(o *kvpb.TxnOp) []byte {
	switch op := o.GetOp().(type) {
	case *kvpb.TxnOp_Put:
		return op.Put.GetKey()
	case *kvpb.TxnOp_Delete:
		return op.Delete.GetKey()
	case *kvpb.TxnOp_Get:
		return op.Get.GetKey()
	}
	return nil
}
