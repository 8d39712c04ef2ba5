package kv

import (
	"bytes"
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// txn evaluates every compare against the state before the transaction,
// then runs the chosen branch in order. An op that aborts (only a put
// whose expiry overflows can) discards the whole branch.
func (x *exec) txn(t *kvpb.TxnRequest) (*kvpb.Response, error) {
	succeeded := true
	for _, c := range t.GetCompares() {
		cur, err := x.view.live(c.GetKey())
		if err != nil {
			return nil, err
		}
		if !compareHolds(c, cur) {
			// The outcome is decided; the remaining compares need not be
			// read.
			succeeded = false
			break
		}
	}
	branch := t.GetThenOps()
	if !succeeded {
		branch = t.GetElseOps()
	}
	resp := &kvpb.Response{Succeeded: succeeded, Results: make([]*kvpb.Result, 0, len(branch))}
	for i, o := range branch {
		var (
			r     *kvpb.Result
			abort bool
			err   error
		)
		switch op := o.GetOp().(type) {
		case *kvpb.TxnOp_Put:
			r, abort, err = x.put(op.Put)
		case *kvpb.TxnOp_Delete:
			r, abort, err = x.delete(op.Delete)
		case *kvpb.TxnOp_Get:
			r, err = x.get(op.Get.GetKey())
		default:
			err = fmt.Errorf("kv: apply: unhandled txn op %T", o.GetOp())
		}
		if err != nil {
			return nil, err
		}
		resp.Results = append(resp.Results, r)
		if abort {
			x.aborted = true
			resp.Code, resp.Message = r.Code, fmt.Sprintf("op %d: %s", i, r.Message)
			return resp, nil
		}
	}
	return resp, nil
}

// get reads key within a command, seeing the command's earlier writes.
func (x *exec) get(key []byte) (*kvpb.Result, error) {
	cur, err := x.view.live(key)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return notFound(key), nil
	}
	return okResult(cur, true), nil
}

// compareHolds evaluates one compare against cur (nil when the key is
// absent or expired). An absent key has version and revisions 0, and no
// VALUE comparison holds for it.
func compareHolds(c *kvpb.Compare, cur *Record) bool {
	var cmp int
	switch c.GetTarget() {
	case kvpb.Compare_EXISTS:
		return cur != nil
	case kvpb.Compare_NOT_EXISTS:
		return cur == nil
	case kvpb.Compare_VALUE:
		if cur == nil {
			return false
		}
		cmp = bytes.Compare(cur.Value, c.GetValue())
	default:
		var have uint64
		if cur != nil {
			switch c.GetTarget() {
			case kvpb.Compare_VERSION:
				have = cur.Version
			case kvpb.Compare_CREATE_REVISION:
				have = cur.CreateRevision
			case kvpb.Compare_MOD_REVISION:
				have = cur.ModRevision
			}
		}
		switch {
		case have < c.GetNumber():
			cmp = -1
		case have > c.GetNumber():
			cmp = 1
		}
	}
	switch c.GetOp() {
	case kvpb.Compare_EQUAL:
		return cmp == 0
	case kvpb.Compare_NOT_EQUAL:
		return cmp != 0
	case kvpb.Compare_LESS:
		return cmp < 0
	case kvpb.Compare_GREATER:
		return cmp > 0
	}
	return false
}
