package kv

import (
	"fmt"
	"math"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// exec runs one validated, in-range write command against a view.
//
// Each op returns its Result and whether it aborts the command. An abort
// (a failed condition, an expiry that would overflow) discards every
// buffered write of the command, which is how bulk commands and
// transactions stay all-or-nothing; a NOT_FOUND outcome does not abort.
type exec struct {
	view    *view
	rev     uint64
	aborted bool
}

func (x *exec) run(req *kvpb.Request) (*kvpb.Response, error) {
	switch op := req.GetOp().(type) {
	case *kvpb.Request_Put:
		return x.single(x.put(op.Put))
	case *kvpb.Request_Delete:
		return x.single(x.delete(op.Delete))
	case *kvpb.Request_Touch:
		return x.single(x.touch(op.Touch))
	case *kvpb.Request_PutMany:
		return runBulk(x, op.PutMany.GetItems(), x.put)
	case *kvpb.Request_DeleteMany:
		return runBulk(x, op.DeleteMany.GetItems(), x.delete)
	case *kvpb.Request_TouchMany:
		return runBulk(x, op.TouchMany.GetItems(), x.touch)
	case *kvpb.Request_Txn:
		return x.txn(op.Txn)
	case *kvpb.Request_Sweep:
		return x.sweep(op.Sweep)
	}
	// Validate has accepted the request, so this is a new kind of op that
	// was added to Validate but not here.
	return nil, fmt.Errorf("kv: apply: unhandled operation %T", req.GetOp())
}

// single wraps the outcome of a one-key command: the command's code is the
// item's.
func (x *exec) single(r *kvpb.Result, abort bool, err error) (*kvpb.Response, error) {
	if err != nil {
		return nil, err
	}
	x.aborted = abort
	return &kvpb.Response{Code: r.Code, Message: r.Message, Results: []*kvpb.Result{r}}, nil
}

// runBulk runs every item in order, each seeing the writes of those before
// it. If any item aborts, the command's code is the first aborting item's
// and nothing is written, but every item still reports its own outcome so
// the caller learns every failed condition at once.
func runBulk[T any](x *exec, items []T, op func(T) (*kvpb.Result, bool, error)) (*kvpb.Response, error) {
	resp := &kvpb.Response{Results: make([]*kvpb.Result, 0, len(items))}
	for i, it := range items {
		r, abort, err := op(it)
		if err != nil {
			return nil, err
		}
		if abort && !x.aborted {
			x.aborted = true
			resp.Code = r.Code
			resp.Message = fmt.Sprintf("item %d: %s", i, r.Message)
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

// okResult reports success with rec's metadata, and its value bytes only
// for reads.
func okResult(rec *Record, withValue bool) *kvpb.Result {
	return &kvpb.Result{Value: rec.toValue(withValue)}
}

// failResult reports an item's negative outcome.
func failResult(code kvpb.ErrorCode, format string, args ...any) *kvpb.Result {
	return &kvpb.Result{Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(key []byte) *kvpb.Result {
	return failResult(kvpb.ErrorCode_NOT_FOUND, "key %q not found", key)
}

// expiry turns a validated ttl into an absolute expiry at the view's time;
// ok is false if it cannot be represented (a clock near the end of int64
// time, or before the epoch), which the command reports as invalid.
func (x *exec) expiry(ttl int64) (at int64, ok bool) {
	if ttl == 0 {
		return 0, true
	}
	now := x.view.now
	if now > math.MaxInt64-ttl || now+ttl <= 0 {
		return 0, false
	}
	return now + ttl, true
}

func (x *exec) put(p *kvpb.PutRequest) (*kvpb.Result, bool, error) {
	s, err := x.view.slot(p.GetKey())
	if err != nil {
		return nil, false, err
	}
	cur := x.view.liveRec(s)
	if msg := conditionFailure(p.GetCondition(), cur); msg != "" {
		return failResult(kvpb.ErrorCode_CONDITION_FAILED, "key %q: %s", p.GetKey(), msg), true, nil
	}
	at, fits := x.expiry(p.GetTtl())
	if !fits {
		return failResult(kvpb.ErrorCode_INVALID_ARGUMENT, "key %q: ttl %d overflows the clock at %d",
			p.GetKey(), p.GetTtl(), x.view.now), true, nil
	}
	rec := &Record{Value: p.GetValue(), ModRevision: x.rev, ExpiresAt: at}
	if cur == nil {
		rec.CreateRevision, rec.Version = x.rev, 1
	} else {
		rec.CreateRevision, rec.Version = cur.CreateRevision, cur.Version+1
		if p.GetKeepTtl() {
			rec.ExpiresAt = cur.ExpiresAt
		}
	}
	s.set(rec)
	return okResult(rec, false), false, nil
}

func (x *exec) delete(d *kvpb.DeleteRequest) (*kvpb.Result, bool, error) {
	s, err := x.view.slot(d.GetKey())
	if err != nil {
		return nil, false, err
	}
	cur := x.view.liveRec(s)
	if msg := conditionFailure(d.GetCondition(), cur); msg != "" {
		return failResult(kvpb.ErrorCode_CONDITION_FAILED, "key %q: %s", d.GetKey(), msg), true, nil
	}
	if cur == nil {
		// An expired record stays for the sweep to remove, so that the
		// removal is seen as an expiry rather than as this delete.
		return notFound(d.GetKey()), false, nil
	}
	s.remove()
	return okResult(cur, false), false, nil
}

func (x *exec) touch(t *kvpb.TouchRequest) (*kvpb.Result, bool, error) {
	s, err := x.view.slot(t.GetKey())
	if err != nil {
		return nil, false, err
	}
	cur := x.view.liveRec(s)
	if cur == nil {
		return notFound(t.GetKey()), false, nil
	}
	at, fits := x.expiry(t.GetTtl())
	if !fits {
		return failResult(kvpb.ErrorCode_INVALID_ARGUMENT, "key %q: ttl %d overflows the clock at %d",
			t.GetKey(), t.GetTtl(), x.view.now), true, nil
	}
	// A touch is a write: it changes what a reader of the key's metadata
	// sees, so it moves mod revision and version like any other write.
	rec := &Record{
		Value:          cur.Value,
		CreateRevision: cur.CreateRevision,
		ModRevision:    x.rev,
		Version:        cur.Version + 1,
		ExpiresAt:      at,
	}
	s.set(rec)
	return okResult(rec, false), false, nil
}

// conditionFailure returns why c does not hold for cur (nil when the key is
// absent or expired), or "" when it holds or is unset.
func conditionFailure(c *kvpb.Condition, cur *Record) string {
	if c == nil {
		return ""
	}
	if c.GetMustNotExist() {
		if cur != nil {
			return "exists"
		}
		return ""
	}
	expects := c.GetMustExist() || c.Value != nil || c.Version != nil || c.ModRevision != nil
	switch {
	case !expects:
		return ""
	case cur == nil:
		return "does not exist"
	case c.Value != nil && string(c.Value) != string(cur.Value):
		return "value differs"
	case c.Version != nil && *c.Version != cur.Version:
		return fmt.Sprintf("version is %d, expected %d", cur.Version, *c.Version)
	case c.ModRevision != nil && *c.ModRevision != cur.ModRevision:
		return fmt.Sprintf("mod revision is %d, expected %d", cur.ModRevision, *c.ModRevision)
	}
	return ""
}
