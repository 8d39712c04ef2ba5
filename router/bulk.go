package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// A bulk request is split into parts, one per range as far as the cache
// knows; items whose range is unknown form one part routed by its first
// item, and a part that turns out to span ranges (the serving range
// answers with a mismatch, whose descriptor the cache learns) is split
// again. Parts run concurrently; each is atomic within its range.

// part is one range's share of a bulk request: item indexes in request
// order.
type part []int

// partOutcome is what one part's route returned.
type partOutcome struct {
	items part
	rep   *reply
	err   error
}

// runParts splits items by range and routes every part, again and again
// for parts that turn out to span ranges, until each has a final outcome
// or ctx ends. build makes the op of a part.
func (r *Router) runParts(ctx context.Context, positions []uint64, build func(part) *op) []partOutcome {
	var done []partOutcome
	pending := make(part, len(positions))
	for i := range pending {
		pending[i] = i
	}
	b := NewBackoff(r.cfg.BackoffMin, r.cfg.BackoffMax)
	for round := 0; len(pending) > 0; round++ {
		// The first re-split is the common, cold-cache case and happens
		// at once; a request that keeps needing them backs off.
		if round > 1 && b.Wait(ctx) != nil {
			done = append(done, partOutcome{items: pending, err: giveUp(ctx, build(pending), round, errResplit)})
			break
		}
		parts := r.split(pending, positions)
		outs := make([]partOutcome, len(parts))
		var wg sync.WaitGroup
		for i, p := range parts {
			wg.Go(func() {
				rep, err := r.route(ctx, build(p))
				outs[i] = partOutcome{items: p, rep: rep, err: err}
			})
		}
		wg.Wait()
		pending = pending[:0:0]
		for _, out := range outs {
			if errors.Is(out.err, errResplit) {
				r.metrics.retries.WithLabelValues(retryResplit).Inc()
				pending = append(pending, out.items...)
				continue
			}
			done = append(done, out)
		}
		slices.Sort(pending)
	}
	return done
}

// split groups items by the cached range of their positions, keeping
// request order within each part. Items of unknown ranges form one part.
func (r *Router) split(items part, positions []uint64) []part {
	var parts []part
	index := make(map[uint64]int)
	var unknown part
	for _, i := range items {
		e, ok := r.lookup(positions[i])
		if !ok {
			unknown = append(unknown, i)
			continue
		}
		id := e.desc.GetRangeId()
		k, seen := index[id]
		if !seen {
			k = len(parts)
			index[id] = k
			parts = append(parts, nil)
		}
		parts[k] = append(parts[k], i)
	}
	if len(unknown) > 0 {
		parts = append(parts, unknown)
	}
	return parts
}

// pick returns the elements of s at the part's indexes.
func pick[T any](s []T, p part) []T {
	out := make([]T, len(p))
	for j, i := range p {
		out[j] = s[i]
	}
	return out
}

// subRequest is the part of a bulk write holding the part's items.
func subRequest(req *kvpb.Request, p part) *kvpb.Request {
	switch op := req.GetOp().(type) {
	case *kvpb.Request_PutMany:
		return &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: &kvpb.PutManyRequest{Items: pick(op.PutMany.GetItems(), p)}}}
	case *kvpb.Request_DeleteMany:
		return &kvpb.Request{Op: &kvpb.Request_DeleteMany{DeleteMany: &kvpb.DeleteManyRequest{Items: pick(op.DeleteMany.GetItems(), p)}}}
	case *kvpb.Request_TouchMany:
		return &kvpb.Request{Op: &kvpb.Request_TouchMany{TouchMany: &kvpb.TouchManyRequest{Items: pick(op.TouchMany.GetItems(), p)}}}
	}
	return req
}

// bulkWrite runs a put_many, delete_many or touch_many split by range.
func (r *Router) bulkWrite(ctx context.Context, name string, req *kvpb.Request) (*kvpb.Response, error) {
	positions := r.positions(kv.RequestKeys(req))
	outs := r.runParts(ctx, positions, func(p part) *op {
		pp := pick(positions, p)
		return &op{name: name, write: subRequest(req, p), pos: pp[0], positions: pp, part: true}
	})
	resp := &kvpb.Response{Results: make([]*kvpb.Result, len(positions))}
	var (
		failed   []int
		errs     []error
		applied  int
		firstBad = -1
	)
	for _, out := range outs {
		if out.err != nil {
			failed = append(failed, out.items...)
			errs = append(errs, fmt.Errorf("items %v: %w", out.items, out.err))
			for _, i := range out.items {
				resp.Results[i] = &kvpb.Result{Code: kvpb.ErrorCode_INTERNAL, Message: out.err.Error()}
			}
			continue
		}
		applied++
		sub := out.rep.write
		resp.Revision = sub.GetRevision()
		for j, i := range out.items {
			if j < len(sub.GetResults()) {
				resp.Results[i] = sub.GetResults()[j]
			} else {
				resp.Results[i] = &kvpb.Result{Code: sub.GetCode(), Message: sub.GetMessage()}
			}
		}
		if sub.GetCode() != kvpb.ErrorCode_OK {
			// The part was refused or aborted as a whole: the command's
			// code is that of its first aborting item in request order.
			i := abortingItem(out.items, sub)
			if firstBad < 0 || i < firstBad {
				firstBad = i
				resp.Code = sub.GetCode()
				resp.Message = fmt.Sprintf("item %d: %s", i, resp.Results[i].GetMessage())
			}
		}
	}
	if applied != 1 {
		// Each range has its own revisions: no single one describes the
		// command (every item's value carries its own mod revision).
		resp.Revision = 0
	}
	if len(errs) == 0 {
		return resp, nil
	}
	slices.Sort(failed)
	err := errors.Join(errs...)
	if applied == 0 {
		return nil, fmt.Errorf("router: %s: %w", name, err)
	}
	return resp, fmt.Errorf("router: %s: %w", name, &BulkError{Failed: failed, Err: err})
}

// abortingItem finds the request index of the item that made a part fail:
// its first item with the part's code, else its first item.
func abortingItem(items part, sub *kvpb.Response) int {
	for j, res := range sub.GetResults() {
		if j < len(items) && res.GetCode() == sub.GetCode() {
			return items[j]
		}
	}
	return items[0]
}

// bulkRead runs a get_many split by range. Reads change nothing, so any
// part failing (after its retries) fails the whole read.
func (r *Router) bulkRead(ctx context.Context, name string, level rangegroup.Consistency, req *kvpb.ReadRequest) (*kvpb.ReadResponse, error) {
	keys := req.GetGetMany().GetKeys()
	positions := r.positions(keys)
	outs := r.runParts(ctx, positions, func(p part) *op {
		pp := pick(positions, p)
		sub := &kvpb.ReadRequest{Op: &kvpb.ReadRequest_GetMany{GetMany: &kvpb.GetManyRequest{Keys: pick(keys, p)}}}
		return &op{name: name, read: sub, level: level, pos: pp[0], positions: pp, part: true}
	})
	resp := &kvpb.ReadResponse{Results: make([]*kvpb.Result, len(keys))}
	for _, out := range outs {
		if out.err != nil {
			return nil, fmt.Errorf("router: %s: %w", name, out.err)
		}
		sub := out.rep.read
		if sub.GetCode() != kvpb.ErrorCode_OK || len(sub.GetResults()) != len(out.items) {
			return nil, fmt.Errorf("router: %s: range %d answered code %v with %d results for %d keys: %s",
				name, out.rep.rangeID, sub.GetCode(), len(sub.GetResults()), len(out.items), sub.GetMessage())
		}
		for j, i := range out.items {
			resp.Results[i] = sub.GetResults()[j]
		}
	}
	return resp, nil
}
