package client

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/concord-kv/concord"
	kvapi "github.com/concord-kv/concord/api/kvpb"
)

// The key-value methods: each reads its options as concord.Node does
// (rejecting those the method does not take before anything is sent),
// carries the call over the KV service, and turns the answer back into
// the embedded API's results and errors.

func optionError(op string, err error) error {
	return fmt.Errorf("concord client: %s: %w", op, err)
}

// Put writes value under key (see concord.Node.Put).
func (c *Client) Put(ctx context.Context, key, value []byte, opts ...concord.Option) (*concord.KeyValue, error) {
	o, err := concord.ResolveOptions("Put", opts...)
	if err != nil {
		return nil, optionError("put", err)
	}
	req := &kvapi.PutRequest{Key: key, Value: value, Ttl: ttlPB(o), KeepTtl: o.KeepTTL}
	var resp *kvapi.PutResponse
	err = c.call(ctx, "put", plan{routed: true, key: key, single: true, write: true}, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (err error) {
		resp, err = kvapi.NewKVClient(conn).Put(ctx, req, co...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return kvFromPB(resp.GetKv(), false), nil
}

// PutIf writes value under key if the conditions hold (see
// concord.Node.PutIf).
func (c *Client) PutIf(ctx context.Context, key, value []byte, opts ...concord.Option) (*concord.KeyValue, error) {
	o, err := concord.ResolveOptions("PutIf", opts...)
	if err != nil {
		return nil, optionError("put_if", err)
	}
	req := &kvapi.PutIfRequest{Key: key, Value: value, Ttl: ttlPB(o), KeepTtl: o.KeepTTL, Condition: conditionPB(o.Conditions)}
	var resp *kvapi.PutResponse
	err = c.call(ctx, "put_if", plan{routed: true, key: key, single: true, write: true}, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (err error) {
		resp, err = kvapi.NewKVClient(conn).PutIf(ctx, req, co...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return kvFromPB(resp.GetKv(), false), nil
}

// Get reads key (see concord.Node.Get).
func (c *Client) Get(ctx context.Context, key []byte, opts ...concord.Option) (*concord.KeyValue, error) {
	o, err := concord.ResolveOptions("Get", opts...)
	if err != nil {
		return nil, optionError("get", err)
	}
	req := &kvapi.GetRequest{Key: key, Consistency: consistencyPB(o.Consistency)}
	var resp *kvapi.GetResponse
	err = c.call(ctx, "get", plan{routed: true, key: key, single: true}, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (err error) {
		resp, err = kvapi.NewKVClient(conn).Get(ctx, req, co...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return kvFromPB(resp.GetKv(), true), nil
}

// Delete removes key (see concord.Node.Delete).
func (c *Client) Delete(ctx context.Context, key []byte, opts ...concord.Option) error {
	if _, err := concord.ResolveOptions("Delete", opts...); err != nil {
		return optionError("delete", err)
	}
	req := &kvapi.DeleteRequest{Key: key}
	return c.call(ctx, "delete", plan{routed: true, key: key, single: true, write: true}, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) error {
		_, err := kvapi.NewKVClient(conn).Delete(ctx, req, co...)
		return err
	})
}

// DeleteIf removes key if the conditions hold (see concord.Node.DeleteIf).
func (c *Client) DeleteIf(ctx context.Context, key []byte, opts ...concord.Option) error {
	o, err := concord.ResolveOptions("DeleteIf", opts...)
	if err != nil {
		return optionError("delete_if", err)
	}
	req := &kvapi.DeleteIfRequest{Key: key, Condition: conditionPB(o.Conditions)}
	return c.call(ctx, "delete_if", plan{routed: true, key: key, single: true, write: true}, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) error {
		_, err := kvapi.NewKVClient(conn).DeleteIf(ctx, req, co...)
		return err
	})
}

// Touch sets how long key has left to live (see concord.Node.Touch).
func (c *Client) Touch(ctx context.Context, key []byte, ttl time.Duration, opts ...concord.Option) (*concord.KeyValue, error) {
	if _, err := concord.ResolveOptions("Touch", opts...); err != nil {
		return nil, optionError("touch", err)
	}
	req := &kvapi.TouchRequest{Key: key, Ttl: durationPB(ttl)}
	var resp *kvapi.TouchResponse
	err := c.call(ctx, "touch", plan{routed: true, key: key, single: true, write: true}, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (err error) {
		resp, err = kvapi.NewKVClient(conn).Touch(ctx, req, co...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return kvFromPB(resp.GetKv(), false), nil
}

// TTL returns how long key has left to live (see concord.Node.TTL).
func (c *Client) TTL(ctx context.Context, key []byte, opts ...concord.Option) (time.Duration, error) {
	o, err := concord.ResolveOptions("TTL", opts...)
	if err != nil {
		return 0, optionError("ttl", err)
	}
	req := &kvapi.TTLRequest{Key: key, Consistency: consistencyPB(o.Consistency)}
	var resp *kvapi.TTLResponse
	err = c.call(ctx, "ttl", plan{routed: true, key: key, single: true}, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (err error) {
		resp, err = kvapi.NewKVClient(conn).TTL(ctx, req, co...)
		return err
	})
	if err != nil {
		return 0, err
	}
	return resp.GetTtl().AsDuration(), nil
}

// PutMany writes every item (see concord.Node.PutMany).
func (c *Client) PutMany(ctx context.Context, items []concord.PutItem, opts ...concord.Option) (itemErrs []error, err error) {
	o, err := concord.ResolveOptions("PutMany", opts...)
	if err != nil {
		return nil, optionError("put_many", err)
	}
	req := &kvapi.PutManyRequest{Ttl: ttlPB(o), KeepTtl: o.KeepTTL, Items: make([]*kvapi.PutItem, len(items))}
	keys := make([][]byte, len(items))
	for i, it := range items {
		req.Items[i] = &kvapi.PutItem{Key: it.Key, Value: it.Value, Ttl: durationPB(it.TTL)}
		keys[i] = it.Key
	}
	return c.bulk(ctx, "put_many", keys, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (*kvapi.BulkResponse, error) {
		return kvapi.NewKVClient(conn).PutMany(ctx, req, co...)
	})
}

// DeleteMany removes every key (see concord.Node.DeleteMany).
func (c *Client) DeleteMany(ctx context.Context, keys [][]byte, opts ...concord.Option) (itemErrs []error, err error) {
	if _, err := concord.ResolveOptions("DeleteMany", opts...); err != nil {
		return nil, optionError("delete_many", err)
	}
	req := &kvapi.DeleteManyRequest{Keys: keys}
	return c.bulk(ctx, "delete_many", keys, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (*kvapi.BulkResponse, error) {
		return kvapi.NewKVClient(conn).DeleteMany(ctx, req, co...)
	})
}

// TouchMany sets the expiry of every item's key (see
// concord.Node.TouchMany).
func (c *Client) TouchMany(ctx context.Context, items []concord.TouchItem, opts ...concord.Option) (itemErrs []error, err error) {
	if _, err := concord.ResolveOptions("TouchMany", opts...); err != nil {
		return nil, optionError("touch_many", err)
	}
	req := &kvapi.TouchManyRequest{Items: make([]*kvapi.TouchItem, len(items))}
	keys := make([][]byte, len(items))
	for i, it := range items {
		req.Items[i] = &kvapi.TouchItem{Key: it.Key, Ttl: durationPB(it.TTL)}
		keys[i] = it.Key
	}
	return c.bulk(ctx, "touch_many", keys, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (*kvapi.BulkResponse, error) {
		return kvapi.NewKVClient(conn).TouchMany(ctx, req, co...)
	})
}

// bulk runs a bulk write of the items of keys and sorts its answer into
// per-item errors and a call-level error, as concord.Node's bulk calls do.
func (c *Client) bulk(ctx context.Context, op string, keys [][]byte, rpc func(context.Context, *grpc.ClientConn, ...grpc.CallOption) (*kvapi.BulkResponse, error)) ([]error, error) {
	var resp *kvapi.BulkResponse
	err := c.call(ctx, op, c.keysPlan(keys, true), func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (err error) {
		resp, err = rpc(ctx, conn, co...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(resp.GetItems()) != len(keys) {
		return nil, fmt.Errorf("concord client: %s: %w: %d outcomes for %d items", op, concord.ErrInternal, len(resp.GetItems()), len(keys))
	}
	errs := make([]error, len(keys))
	for i, e := range resp.GetItems() {
		errs[i] = itemError(e)
	}
	if f := resp.GetFailure(); f != nil {
		return errs, itemError(f)
	}
	return errs, nil
}

// GetMany reads every key (see concord.Node.GetMany).
func (c *Client) GetMany(ctx context.Context, keys [][]byte, opts ...concord.Option) ([]*concord.KeyValue, error) {
	o, err := concord.ResolveOptions("GetMany", opts...)
	if err != nil {
		return nil, optionError("get_many", err)
	}
	req := &kvapi.GetManyRequest{Keys: keys, Consistency: consistencyPB(o.Consistency)}
	var resp *kvapi.GetManyResponse
	err = c.call(ctx, "get_many", c.keysPlan(keys, false), func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (err error) {
		resp, err = kvapi.NewKVClient(conn).GetMany(ctx, req, co...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(resp.GetItems()) != len(keys) {
		return nil, fmt.Errorf("concord client: get_many: %w: %d results for %d keys", concord.ErrInternal, len(resp.GetItems()), len(keys))
	}
	out := make([]*concord.KeyValue, len(keys))
	for i, it := range resp.GetItems() {
		out[i] = kvFromPB(it.GetKv(), true)
	}
	return out, nil
}

// Txn runs a transaction (see concord.Node.Txn).
func (c *Client) Txn(ctx context.Context, txn concord.Txn, opts ...concord.Option) (*concord.TxnResult, error) {
	if _, err := concord.ResolveOptions("Txn", opts...); err != nil {
		return nil, optionError("txn", err)
	}
	req, key, err := txnPB(txn)
	if err != nil {
		return nil, optionError("txn", err)
	}
	var resp *kvapi.TxnResponse
	err = c.call(ctx, "txn", plan{routed: true, key: key, single: true, write: true}, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (err error) {
		resp, err = kvapi.NewKVClient(conn).Txn(ctx, req, co...)
		return err
	})
	if err != nil {
		return nil, err
	}
	branch := req.GetThen()
	if !resp.GetSucceeded() {
		branch = req.GetElse()
	}
	if len(resp.GetResults()) != len(branch) {
		return nil, fmt.Errorf("concord client: txn: %w: %d results for %d ops", concord.ErrInternal, len(resp.GetResults()), len(branch))
	}
	out := &concord.TxnResult{Succeeded: resp.GetSucceeded(), Revision: resp.GetRevision(), Results: make([]concord.OpResult, len(branch))}
	for i, r := range resp.GetResults() {
		if e := r.GetError(); e != nil {
			if err := itemError(e); err != nil {
				out.Results[i].Err = err
				continue
			}
		}
		_, isGet := branch[i].GetOp().(*kvapi.TxnOp_Get)
		out.Results[i].KeyValue = kvFromPB(r.GetKv(), isGet)
	}
	return out, nil
}

// Scan lists one page of live keys (see concord.Node.Scan).
func (c *Client) Scan(ctx context.Context, after []byte, limit int, opts ...concord.Option) (page []*concord.KeyValue, more bool, err error) {
	o, err := concord.ResolveOptions("Scan", opts...)
	if err != nil {
		return nil, false, optionError("scan", err)
	}
	req := &kvapi.ScanRequest{After: after, Limit: int64(limit), Consistency: consistencyPB(o.Consistency), KeysOnly: o.KeysOnly, Prefix: o.Prefix}
	var resp *kvapi.ScanResponse
	err = c.call(ctx, "scan", plan{}, func(ctx context.Context, conn *grpc.ClientConn, co ...grpc.CallOption) (err error) {
		resp, err = kvapi.NewKVClient(conn).Scan(ctx, req, co...)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	page = make([]*concord.KeyValue, len(resp.GetKvs()))
	for i, kv := range resp.GetKvs() {
		page[i] = kvFromPB(kv, !o.KeysOnly)
	}
	return page, resp.GetMore(), nil
}
