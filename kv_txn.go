package concord

import (
	"context"
	"errors"
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// Txn is a multi-key transaction: if every compare of If holds, the ops of
// Then run, else those of Else. The compares see the state before the
// transaction; the ops of the chosen branch run in order, each seeing the
// writes of the ones before it, and commit together as one command of one
// range's log, so no reader ever sees part of them.
//
// All keys of a transaction (compares and both branches) must share a hash
// tag, the part between the first '{' and the next '}' of a key, such as
// "{acct:7}:balance" and "{acct:7}:history": keys sharing a tag always
// share a range. Keys of different tags are rejected with
// ErrInvalidArgument, since no single range could apply them atomically.
//
// Each of If, Then and Else holds at most Limits.MaxBatchItems entries, and
// the transaction must hold at least one.
type Txn struct {
	If   []Compare
	Then []Op
	Else []Op
}

// TxnResult is the outcome of a transaction that ran.
type TxnResult struct {
	// Succeeded reports whether every compare held, so that Then ran
	// (otherwise Else ran).
	Succeeded bool
	// Revision is the revision of the transaction's command: every key it
	// wrote has this ModRevision.
	Revision uint64
	// Results has one entry per op of the branch that ran, in order.
	Results []OpResult
}

// OpResult is the outcome of one op of a transaction.
type OpResult struct {
	// KeyValue is, for a get, the key as it was at that point of the
	// transaction; for a put, the metadata written (Value nil); for a
	// delete, the metadata of the removed key (Value nil). Nil when Err
	// is set.
	KeyValue *KeyValue
	// Err is ErrNotFound for a get or delete of a key that does not exist
	// at that point of the transaction, else nil.
	Err error
}

// CompareOp is how a compare tests its target against its operand:
// target op operand.
type CompareOp int

// The compare operators. Values compare byte-wise lexicographically,
// versions and revisions numerically.
const (
	CmpEqual CompareOp = iota
	CmpNotEqual
	CmpLess
	CmpGreater
)

// wire maps a CompareOp onto its wire form; ok is false for an unknown op.
func (op CompareOp) wire() (kvpb.Compare_Op, bool) {
	switch op {
	case CmpEqual:
		return kvpb.Compare_EQUAL, true
	case CmpNotEqual:
		return kvpb.Compare_NOT_EQUAL, true
	case CmpLess:
		return kvpb.Compare_LESS, true
	case CmpGreater:
		return kvpb.Compare_GREATER, true
	}
	return 0, false
}

// Compare is one test of a transaction's If. Build it with CompareValue,
// CompareVersion, CompareCreateRevision, CompareModRevision, KeyExists or
// KeyMissing; the zero Compare is invalid. A key that does not exist (or
// has expired) has version and revisions 0, and no value compare holds for
// it, not even CmpNotEqual.
type Compare struct {
	c   *kvpb.Compare
	err error
}

// CompareValue tests the key's value: value op v.
func CompareValue(key []byte, op CompareOp, v []byte) Compare {
	return compare(key, kvpb.Compare_VALUE, op, func(c *kvpb.Compare) { c.Value = v })
}

// CompareVersion tests the key's version: version op n.
func CompareVersion(key []byte, op CompareOp, n uint64) Compare {
	return compare(key, kvpb.Compare_VERSION, op, func(c *kvpb.Compare) { c.Number = n })
}

// CompareCreateRevision tests the key's create revision: revision op r.
func CompareCreateRevision(key []byte, op CompareOp, r uint64) Compare {
	return compare(key, kvpb.Compare_CREATE_REVISION, op, func(c *kvpb.Compare) { c.Number = r })
}

// CompareModRevision tests the key's mod revision: revision op r.
func CompareModRevision(key []byte, op CompareOp, r uint64) Compare {
	return compare(key, kvpb.Compare_MOD_REVISION, op, func(c *kvpb.Compare) { c.Number = r })
}

// KeyExists holds if the key exists (and has not expired).
func KeyExists(key []byte) Compare {
	return Compare{c: &kvpb.Compare{Key: key, Target: kvpb.Compare_EXISTS}}
}

// KeyMissing holds if the key does not exist (or has expired).
func KeyMissing(key []byte) Compare {
	return Compare{c: &kvpb.Compare{Key: key, Target: kvpb.Compare_NOT_EXISTS}}
}

func compare(key []byte, target kvpb.Compare_Target, op CompareOp, operand func(*kvpb.Compare)) Compare {
	wop, ok := op.wire()
	if !ok {
		return Compare{err: fmt.Errorf("%w: unknown compare operator %d", ErrInvalidArgument, op)}
	}
	c := &kvpb.Compare{Key: key, Target: target, Op: wop}
	operand(c)
	return Compare{c: c}
}

// Op is one operation of a transaction branch. Build it with OpPut,
// OpDelete or OpGet; the zero Op is invalid.
type Op struct {
	op  *kvpb.TxnOp
	err error
}

// OpPut writes value under key, like Put.
//
// Options: WithTTL, WithKeepTTL.
func OpPut(key, value []byte, opts ...Option) Op {
	o, err := parseOptions(writeOptions, opts)
	if err != nil {
		return Op{err: err}
	}
	return Op{op: &kvpb.TxnOp{Op: &kvpb.TxnOp_Put{Put: o.put(key, value)}}}
}

// OpDelete removes key, like Delete; a missing key makes the op's result
// ErrNotFound without failing the transaction.
func OpDelete(key []byte) Op {
	return Op{op: &kvpb.TxnOp{Op: &kvpb.TxnOp_Delete{Delete: &kvpb.DeleteRequest{Key: key}}}}
}

// OpGet reads key, seeing the writes of the branch's earlier ops.
func OpGet(key []byte) Op {
	return Op{op: &kvpb.TxnOp{Op: &kvpb.TxnOp_Get{Get: &kvpb.GetRequest{Key: key}}}}
}

// key is the key an op is on.
func (op Op) key() []byte {
	switch o := op.op.GetOp().(type) {
	case *kvpb.TxnOp_Put:
		return o.Put.GetKey()
	case *kvpb.TxnOp_Delete:
		return o.Delete.GetKey()
	case *kvpb.TxnOp_Get:
		return o.Get.GetKey()
	}
	return nil
}

// Txn runs a transaction atomically on the range of its keys' hash tag and
// reports which branch ran and what each of its ops found. A transaction
// is linearizable, reads included. An error means nothing was written,
// except ErrTimeout, which means the outcome is unknown.
//
// Options: none.
func (n *Node) Txn(ctx context.Context, txn Txn, opts ...Option) (*TxnResult, error) {
	const op = "txn"
	if _, err := parseOptions(noOptions, opts); err != nil {
		return nil, inputError(op, err)
	}
	req, keys, err := txnRequest(txn)
	if err != nil {
		return nil, inputError(op, err)
	}
	if err := n.cfg.Limits.Validate(req); err != nil {
		return nil, inputError(op, err)
	}
	if err := n.sameRange(keys); err != nil {
		return nil, inputError(op, err)
	}
	resp, err := n.write(ctx, op, req)
	if err != nil {
		return nil, err
	}
	if err := outcomeError(op, resp.GetCode(), resp.GetMessage()); err != nil {
		return nil, err
	}
	branch := txn.Then
	if !resp.GetSucceeded() {
		branch = txn.Else
	}
	results := resp.GetResults()
	if len(results) != len(branch) {
		return nil, fmt.Errorf("concord: %s: %d results for %d ops", op, len(results), len(branch))
	}
	out := &TxnResult{Succeeded: resp.GetSucceeded(), Revision: resp.GetRevision(), Results: make([]OpResult, len(results))}
	for i, r := range results {
		if err := codeError(r.GetCode(), r.GetMessage()); err != nil {
			out.Results[i].Err = fmt.Errorf("concord: %s op %d: %w", op, i, err)
			continue
		}
		key := branch[i].key()
		if _, isGet := branch[i].op.GetOp().(*kvpb.TxnOp_Get); isGet {
			out.Results[i].KeyValue = readKeyValue(key, r.GetValue())
		} else {
			out.Results[i].KeyValue = keyValue(key, r.GetValue())
		}
	}
	return out, nil
}

// txnRequest builds the wire form of txn and lists every key it touches.
func txnRequest(txn Txn) (*kvpb.Request, [][]byte, error) {
	t := &kvpb.TxnRequest{}
	var keys [][]byte
	for i, c := range txn.If {
		switch {
		case c.err != nil:
			return nil, nil, fmt.Errorf("compare %d: %w", i, c.err)
		case c.c == nil:
			return nil, nil, fmt.Errorf("%w: compare %d is the zero Compare", ErrInvalidArgument, i)
		}
		t.Compares = append(t.Compares, c.c)
		keys = append(keys, c.c.GetKey())
	}
	for _, branch := range []struct {
		name string
		ops  []Op
		dst  *[]*kvpb.TxnOp
	}{{"then", txn.Then, &t.ThenOps}, {"else", txn.Else, &t.ElseOps}} {
		for i, op := range branch.ops {
			switch {
			case op.err != nil:
				return nil, nil, fmt.Errorf("%s op %d: %w", branch.name, i, op.err)
			case op.op == nil:
				return nil, nil, fmt.Errorf("%w: %s op %d is the zero Op", ErrInvalidArgument, branch.name, i)
			}
			*branch.dst = append(*branch.dst, op.op)
			keys = append(keys, op.key())
		}
	}
	return &kvpb.Request{Op: &kvpb.Request_Txn{Txn: t}}, keys, nil
}

// errSplitTxn explains why keys of different hash tags cannot be in one
// transaction.
var errSplitTxn = errors.New("keys of a transaction must share a hash tag, e.g. {user:1}:a and {user:1}:b")

// sameRange checks that keys all map to one ring position, which puts them
// in one range whatever the ranges' boundaries.
func (n *Node) sameRange(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys[1:] {
		if n.position(k) != n.position(keys[0]) {
			return fmt.Errorf("%w: %w: %q and %q", ErrInvalidArgument, errSplitTxn, shortKey(keys[0]), shortKey(k))
		}
	}
	return nil
}

// shortKey bounds a key quoted in an error message.
func shortKey(k []byte) []byte {
	const limit = 64
	if len(k) > limit {
		return k[:limit]
	}
	return k
}
