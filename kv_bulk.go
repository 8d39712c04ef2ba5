package concord

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/router"
)

// Bulk calls take 1..Limits.MaxBatchItems items. The router splits them by
// range: the items of one range are applied atomically (all or nothing, in
// request order, so a later item on the same key wins), the parts of
// different ranges independently. Items whose keys share a hash tag always
// share a range, so a bulk call over one tag is atomic as a whole.
//
// The per-item errors have one entry per item, nil for success. The
// call-level error is nil when every item has its outcome in the per-item
// errors. Otherwise:
//   - bad input: the per-item errors are nil and nothing was written;
//   - some ranges applied their items and others failed: the per-item
//     errors say which items failed (wrapping ErrTimeout when their outcome
//     is unknown, ErrUnavailable when they were not applied), and the
//     call-level error wraps the failure;
//   - the whole call failed, or an item aborted its range's part (a TTL
//     the clock cannot represent): the per-item errors are nil. When all
//     items share a range, nothing was written.
//
// DeleteMany and TouchMany never abort on a missing key: it is that item's
// ErrNotFound.

// PutItem is one item of PutMany.
type PutItem struct {
	Key, Value []byte
	// TTL, when non-zero, makes the key expire TTL after the write,
	// overriding the call's WithTTL or WithKeepTTL.
	TTL time.Duration
}

// TouchItem is one item of TouchMany: set Key to expire TTL from now (0:
// never).
type TouchItem struct {
	Key []byte
	TTL time.Duration
}

// PutMany writes every item, as Put would. Without a TTL of its own an
// item gets the call's WithTTL, keeps its expiry under WithKeepTTL, and
// otherwise has its expiry cleared.
//
// Items are split by range: each range's items are applied atomically and
// in order, different ranges independently (keys sharing a hash tag share
// a range). itemErrs has one entry per item, nil when it was applied. err
// is non-nil when the call failed as a whole (itemErrs is nil; bad input
// wrote nothing) or in part (itemErrs says which items failed).
//
// Options: WithTTL, WithKeepTTL.
func (n *Node) PutMany(ctx context.Context, items []PutItem, opts ...Option) (itemErrs []error, err error) {
	const op = "put_many"
	o, err := parseOptions(writeOptions, opts)
	if err != nil {
		return nil, inputError(op, err)
	}
	puts := make([]*kvpb.PutRequest, len(items))
	for i, it := range items {
		p := o.put(it.Key, it.Value)
		if it.TTL != 0 {
			if err := checkTTL(it.TTL); err != nil {
				return nil, inputError(op, fmt.Errorf("item %d: %w", i, err))
			}
			p.Ttl, p.KeepTtl = int64(it.TTL), false
		}
		puts[i] = p
	}
	return n.writeBulk(ctx, op, len(items), &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: &kvpb.PutManyRequest{Items: puts}}})
}

// DeleteMany removes every key, as Delete would: a missing key gets
// ErrNotFound as its per-item error, which does not stop the others.
//
// Items are split by range: each range's items are applied atomically and
// in order, different ranges independently (keys sharing a hash tag share
// a range). itemErrs has one entry per item, nil when it was applied. err
// is non-nil when the call failed as a whole (itemErrs is nil; bad input
// wrote nothing) or in part (itemErrs says which items failed).
//
// Options: none.
func (n *Node) DeleteMany(ctx context.Context, keys [][]byte, opts ...Option) (itemErrs []error, err error) {
	const op = "delete_many"
	if _, err := parseOptions(noOptions, opts); err != nil {
		return nil, inputError(op, err)
	}
	dels := make([]*kvpb.DeleteRequest, len(keys))
	for i, k := range keys {
		dels[i] = &kvpb.DeleteRequest{Key: k}
	}
	return n.writeBulk(ctx, op, len(keys), &kvpb.Request{Op: &kvpb.Request_DeleteMany{DeleteMany: &kvpb.DeleteManyRequest{Items: dels}}})
}

// TouchMany sets the expiry of every item's key, as Touch would: a missing
// or expired key gets ErrNotFound as its per-item error, which does not
// stop the others.
//
// Items are split by range: each range's items are applied atomically and
// in order, different ranges independently (keys sharing a hash tag share
// a range). itemErrs has one entry per item, nil when it was applied. err
// is non-nil when the call failed as a whole (itemErrs is nil; bad input
// wrote nothing) or in part (itemErrs says which items failed).
//
// Options: none.
func (n *Node) TouchMany(ctx context.Context, items []TouchItem, opts ...Option) (itemErrs []error, err error) {
	const op = "touch_many"
	if _, err := parseOptions(noOptions, opts); err != nil {
		return nil, inputError(op, err)
	}
	touches := make([]*kvpb.TouchRequest, len(items))
	for i, it := range items {
		if err := checkTTL(it.TTL); err != nil {
			return nil, inputError(op, fmt.Errorf("item %d: %w", i, err))
		}
		touches[i] = &kvpb.TouchRequest{Key: it.Key, Ttl: int64(it.TTL)}
	}
	return n.writeBulk(ctx, op, len(items), &kvpb.Request{Op: &kvpb.Request_TouchMany{TouchMany: &kvpb.TouchManyRequest{Items: touches}}})
}

// GetMany reads every key, as Get would. The result has one entry per key,
// in order: nil for a missing or expired key. Any failure fails the whole
// call (a read changes nothing, so it can simply be retried).
//
// Options: WithConsistency.
func (n *Node) GetMany(ctx context.Context, keys [][]byte, opts ...Option) ([]*KeyValue, error) {
	const op = "get_many"
	o, err := parseOptions(readOptions, opts)
	if err != nil {
		return nil, inputError(op, err)
	}
	req := &kvpb.ReadRequest{Op: &kvpb.ReadRequest_GetMany{GetMany: &kvpb.GetManyRequest{Keys: keys}}}
	resp, err := n.read(ctx, op, o.consistency, req)
	if err != nil {
		return nil, err
	}
	if err := outcomeError(op, resp.GetCode(), resp.GetMessage()); err != nil {
		return nil, err
	}
	results := resp.GetResults()
	if len(results) != len(keys) {
		return nil, fmt.Errorf("concord: %s: %d results for %d keys", op, len(results), len(keys))
	}
	out := make([]*KeyValue, len(keys))
	for i, r := range results {
		switch r.GetCode() {
		case kvpb.ErrorCode_OK:
			out[i] = readKeyValue(keys[i], r.GetValue())
		case kvpb.ErrorCode_NOT_FOUND:
		default:
			return nil, fmt.Errorf("concord: %s: key %d: %w", op, i, codeError(r.GetCode(), r.GetMessage()))
		}
	}
	return out, nil
}

// writeBulk sends a bulk write of count items and sorts its outcome into
// per-item errors and a call-level error, as described above.
func (n *Node) writeBulk(ctx context.Context, op string, count int, req *kvpb.Request) ([]error, error) {
	resp, err := n.write(ctx, op, req)
	return bulkOutcome(op, count, resp, err)
}

// bulkOutcome sorts the router's answer to a bulk write into per-item
// errors and a call-level error. A router.BulkError comes with a partial
// response whose failed items it lists; any other error fails the call.
func bulkOutcome(op string, count int, resp *kvpb.Response, err error) ([]error, error) {
	var partial *router.BulkError
	if err != nil && (resp == nil || !errors.As(err, &partial)) {
		return nil, err
	}
	if code := resp.GetCode(); code != kvpb.ErrorCode_OK {
		// A range's part was aborted by one of its items: that part wrote
		// nothing, but its other items report OK, and the merged response
		// does not say which items were in the part. Only the call as a
		// whole can be reported.
		return nil, errors.Join(err, outcomeError(op, code, resp.GetMessage()))
	}
	results := resp.GetResults()
	if len(results) != count {
		return nil, fmt.Errorf("concord: %s: %d results for %d items", op, len(results), count)
	}
	failed := make(map[int]bool)
	if partial != nil {
		for _, i := range partial.Failed {
			failed[i] = true
		}
	}
	errs := make([]error, count)
	for i, r := range results {
		var e error
		if failed[i] {
			e = vocabulary(partial.Err)
		} else {
			e = codeError(r.GetCode(), r.GetMessage())
		}
		if e != nil {
			errs[i] = fmt.Errorf("concord: %s item %d: %w", op, i, e)
		}
	}
	return errs, err
}
