package concord

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	kvapi "github.com/concord-kv/concord/api/kvpb"
)

// The gRPC KV service (api/kvpb, concord.kv.v1.KV) over a Node. Every
// handler turns the request into a call of the Node's own method, so the
// limits, option checks and error vocabulary are exactly the embedded
// API's: nothing is proposed before the Node has validated it, and a
// malformed request (nil fields, an unknown enum, a bad duration) is
// rejected as invalid_argument instead of reaching the Node at all.

// ServedLocallyTrailer is the gRPC trailer through which a node tells the
// client whether it led the range of every key of a request when the
// request arrived ("true"), or had to forward it ("false"). A client that
// routes by itself (api/client) refreshes its routing table on "false".
// Scans cross ranges and carry no such trailer.
const ServedLocallyTrailer = "concord-served-locally"

func registerKV(s *grpc.Server, n *Node) {
	kvapi.RegisterKVServer(s, &kvServer{n: n})
}

type kvServer struct {
	kvapi.UnimplementedKVServer
	n *Node
}

// markLocal sets the ServedLocallyTrailer for a request on keys.
func (s *kvServer) markLocal(ctx context.Context, keys ...[]byte) {
	local := len(keys) > 0
	for _, k := range keys {
		info, ok := s.n.store.RangeFor(s.n.position(k))
		if !ok || !info.IsLeader {
			local = false
			break
		}
	}
	// SetTrailer fails only outside a gRPC handler, which never happens
	// here; the trailer is a hint anyway.
	_ = grpc.SetTrailer(ctx, metadata.Pairs(ServedLocallyTrailer, strconv.FormatBool(local)))
}

func (s *kvServer) Put(ctx context.Context, req *kvapi.PutRequest) (*kvapi.PutResponse, error) {
	s.markLocal(ctx, req.GetKey())
	opts, err := writeOpts(req.GetTtl(), req.GetKeepTtl())
	if err != nil {
		return nil, s.fail(err)
	}
	kv, err := s.n.Put(ctx, req.GetKey(), req.GetValue(), opts...)
	if err != nil {
		return nil, s.fail(err)
	}
	return &kvapi.PutResponse{Kv: kvPB(kv)}, nil
}

func (s *kvServer) PutIf(ctx context.Context, req *kvapi.PutIfRequest) (*kvapi.PutResponse, error) {
	s.markLocal(ctx, req.GetKey())
	opts, err := writeOpts(req.GetTtl(), req.GetKeepTtl())
	if err != nil {
		return nil, s.fail(err)
	}
	opts = append(opts, conditionOpts(req.GetCondition())...)
	kv, err := s.n.PutIf(ctx, req.GetKey(), req.GetValue(), opts...)
	if err != nil {
		return nil, s.fail(err)
	}
	return &kvapi.PutResponse{Kv: kvPB(kv)}, nil
}

func (s *kvServer) Get(ctx context.Context, req *kvapi.GetRequest) (*kvapi.GetResponse, error) {
	s.markLocal(ctx, req.GetKey())
	opts, err := readOpts(req.GetConsistency())
	if err != nil {
		return nil, s.fail(err)
	}
	kv, err := s.n.Get(ctx, req.GetKey(), opts...)
	if err != nil {
		return nil, s.fail(err)
	}
	return &kvapi.GetResponse{Kv: kvPB(kv)}, nil
}

func (s *kvServer) Delete(ctx context.Context, req *kvapi.DeleteRequest) (*kvapi.DeleteResponse, error) {
	s.markLocal(ctx, req.GetKey())
	if err := s.n.Delete(ctx, req.GetKey()); err != nil {
		return nil, s.fail(err)
	}
	return &kvapi.DeleteResponse{}, nil
}

func (s *kvServer) DeleteIf(ctx context.Context, req *kvapi.DeleteIfRequest) (*kvapi.DeleteResponse, error) {
	s.markLocal(ctx, req.GetKey())
	if err := s.n.DeleteIf(ctx, req.GetKey(), conditionOpts(req.GetCondition())...); err != nil {
		return nil, s.fail(err)
	}
	return &kvapi.DeleteResponse{}, nil
}

func (s *kvServer) Touch(ctx context.Context, req *kvapi.TouchRequest) (*kvapi.TouchResponse, error) {
	s.markLocal(ctx, req.GetKey())
	ttl, err := durationArg(req.GetTtl())
	if err != nil {
		return nil, s.fail(err)
	}
	kv, err := s.n.Touch(ctx, req.GetKey(), ttl)
	if err != nil {
		return nil, s.fail(err)
	}
	return &kvapi.TouchResponse{Kv: kvPB(kv)}, nil
}

func (s *kvServer) TTL(ctx context.Context, req *kvapi.TTLRequest) (*kvapi.TTLResponse, error) {
	s.markLocal(ctx, req.GetKey())
	opts, err := readOpts(req.GetConsistency())
	if err != nil {
		return nil, s.fail(err)
	}
	ttl, err := s.n.TTL(ctx, req.GetKey(), opts...)
	if err != nil {
		return nil, s.fail(err)
	}
	return &kvapi.TTLResponse{Ttl: durationpb.New(ttl)}, nil
}

func (s *kvServer) PutMany(ctx context.Context, req *kvapi.PutManyRequest) (*kvapi.BulkResponse, error) {
	items := make([]PutItem, len(req.GetItems()))
	keys := make([][]byte, len(items))
	for i, it := range req.GetItems() {
		ttl, err := durationArg(it.GetTtl())
		if err != nil {
			return nil, s.fail(err)
		}
		items[i] = PutItem{Key: it.GetKey(), Value: it.GetValue(), TTL: ttl}
		keys[i] = it.GetKey()
	}
	s.markLocal(ctx, keys...)
	opts, err := writeOpts(req.GetTtl(), req.GetKeepTtl())
	if err != nil {
		return nil, s.fail(err)
	}
	return s.bulk(s.n.PutMany(ctx, items, opts...))
}

func (s *kvServer) DeleteMany(ctx context.Context, req *kvapi.DeleteManyRequest) (*kvapi.BulkResponse, error) {
	s.markLocal(ctx, req.GetKeys()...)
	return s.bulk(s.n.DeleteMany(ctx, req.GetKeys()))
}

func (s *kvServer) TouchMany(ctx context.Context, req *kvapi.TouchManyRequest) (*kvapi.BulkResponse, error) {
	items := make([]TouchItem, len(req.GetItems()))
	keys := make([][]byte, len(items))
	for i, it := range req.GetItems() {
		ttl, err := durationArg(it.GetTtl())
		if err != nil {
			return nil, s.fail(err)
		}
		items[i] = TouchItem{Key: it.GetKey(), TTL: ttl}
		keys[i] = it.GetKey()
	}
	s.markLocal(ctx, keys...)
	return s.bulk(s.n.TouchMany(ctx, items))
}

// bulk turns the outcome of a bulk write into its response: a call that
// failed as a whole is a gRPC error, one that reached its ranges lists
// every item's outcome and, if it failed in part, the failure.
func (s *kvServer) bulk(itemErrs []error, err error) (*kvapi.BulkResponse, error) {
	if itemErrs == nil && err != nil {
		return nil, s.fail(err)
	}
	resp := &kvapi.BulkResponse{Items: make([]*kvapi.Error, len(itemErrs))}
	for i, e := range itemErrs {
		resp.Items[i] = errorPB(e)
	}
	if err != nil {
		resp.Failure = errorPB(err)
	}
	return resp, nil
}

func (s *kvServer) GetMany(ctx context.Context, req *kvapi.GetManyRequest) (*kvapi.GetManyResponse, error) {
	s.markLocal(ctx, req.GetKeys()...)
	opts, err := readOpts(req.GetConsistency())
	if err != nil {
		return nil, s.fail(err)
	}
	kvs, err := s.n.GetMany(ctx, req.GetKeys(), opts...)
	if err != nil {
		return nil, s.fail(err)
	}
	resp := &kvapi.GetManyResponse{Items: make([]*kvapi.GetManyItem, len(kvs))}
	for i, kv := range kvs {
		resp.Items[i] = &kvapi.GetManyItem{Kv: kvPB(kv)}
	}
	return resp, nil
}

func (s *kvServer) Txn(ctx context.Context, req *kvapi.TxnRequest) (*kvapi.TxnResponse, error) {
	txn, keys, err := txnFromPB(req)
	if err != nil {
		return nil, s.fail(err)
	}
	s.markLocal(ctx, keys...)
	res, err := s.n.Txn(ctx, txn)
	if err != nil {
		return nil, s.fail(err)
	}
	resp := &kvapi.TxnResponse{Succeeded: res.Succeeded, Revision: res.Revision, Results: make([]*kvapi.OpResult, len(res.Results))}
	for i, r := range res.Results {
		resp.Results[i] = &kvapi.OpResult{Kv: kvPB(r.KeyValue)}
		if r.Err != nil {
			resp.Results[i].Error = errorPB(r.Err)
		}
	}
	return resp, nil
}

func (s *kvServer) Scan(ctx context.Context, req *kvapi.ScanRequest) (*kvapi.ScanResponse, error) {
	var opts []Option
	if c := req.GetConsistency(); c != kvapi.Consistency_CONSISTENCY_UNSPECIFIED {
		level, err := consistencyArg(c)
		if err != nil {
			return nil, s.fail(err)
		}
		opts = append(opts, WithConsistency(level))
	}
	if req.GetKeysOnly() {
		opts = append(opts, WithKeysOnly())
	}
	if len(req.GetPrefix()) > 0 {
		opts = append(opts, WithPrefix(req.GetPrefix()))
	}
	var after []byte
	if len(req.GetAfter()) > 0 {
		after = req.GetAfter()
	}
	// Clamped, not wrapped, on 32-bit platforms: anything this far from
	// zero is negative or over the batch limit either way.
	limit := int(max(min(req.GetLimit(), math.MaxInt32), math.MinInt32))
	page, more, err := s.n.Scan(ctx, after, limit, opts...)
	if err != nil {
		return nil, s.fail(err)
	}
	resp := &kvapi.ScanResponse{Kvs: make([]*kvapi.KeyValue, len(page)), More: more}
	for i, kv := range page {
		resp.Kvs[i] = kvPB(kv)
	}
	return resp, nil
}

// fail turns a call's error into its gRPC status, logging internal
// failures (the others are the caller's business).
func (s *kvServer) fail(err error) error {
	if CodeOf(err) == CodeInternal {
		s.n.cfg.Logger.Warn("kv request failed", "err", err)
	}
	return grpcError(err)
}

// writeOpts are the options of a put's ttl and keep_ttl fields: WithTTL
// when ttl is set (even to zero, which contradicts keep_ttl as WithTTL(0)
// does).
func writeOpts(ttl *durationpb.Duration, keep bool) ([]Option, error) {
	var opts []Option
	if ttl != nil {
		d, err := durationArg(ttl)
		if err != nil {
			return nil, err
		}
		opts = append(opts, WithTTL(d))
	}
	if keep {
		opts = append(opts, WithKeepTTL())
	}
	return opts, nil
}

// readOpts is the option of a read's consistency field.
func readOpts(c kvapi.Consistency) ([]Option, error) {
	if c == kvapi.Consistency_CONSISTENCY_UNSPECIFIED {
		return nil, nil
	}
	level, err := consistencyArg(c)
	if err != nil {
		return nil, err
	}
	return []Option{WithConsistency(level)}, nil
}

func consistencyArg(c kvapi.Consistency) (Consistency, error) {
	switch c {
	case kvapi.Consistency_CONSISTENCY_UNSPECIFIED, kvapi.Consistency_CONSISTENCY_LEADER:
		return Leader, nil
	case kvapi.Consistency_CONSISTENCY_STRONG:
		return Strong, nil
	case kvapi.Consistency_CONSISTENCY_EVENTUAL:
		return Eventual, nil
	}
	return 0, wireError("unknown consistency %d", c)
}

// conditionOpts are the options of a Condition; none for nil, which the
// conditional calls reject.
func conditionOpts(c *kvapi.Condition) []Option {
	var opts []Option
	if c == nil {
		return nil
	}
	if c.Value != nil {
		opts = append(opts, IfValue(c.Value))
	}
	if c.Version != nil {
		opts = append(opts, IfVersion(c.GetVersion()))
	}
	if c.ModRevision != nil {
		opts = append(opts, IfModRevision(c.GetModRevision()))
	}
	if c.GetMustExist() {
		opts = append(opts, IfExists())
	}
	if c.GetMustNotExist() {
		opts = append(opts, IfNotExists())
	}
	return opts
}

// durationArg reads a duration field; nil is zero. Range checks are the
// Node's (negative and over-MaxTTL durations are rejected there;
// AsDuration saturates, so a huge one stays over MaxTTL).
func durationArg(d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, wireError("bad duration: %v", err)
	}
	return d.AsDuration(), nil
}

// txnFromPB builds a transaction from its wire form, with every key it
// names.
func txnFromPB(req *kvapi.TxnRequest) (Txn, [][]byte, error) {
	var txn Txn
	var keys [][]byte
	for i, c := range req.GetCompares() {
		cmp, err := compareFromPB(c)
		if err != nil {
			return Txn{}, nil, fmt.Errorf("compare %d: %w", i, err)
		}
		txn.If = append(txn.If, cmp)
		keys = append(keys, c.GetKey())
	}
	for _, branch := range []struct {
		name string
		ops  []*kvapi.TxnOp
		dst  *[]Op
	}{{"then", req.GetThen(), &txn.Then}, {"else", req.GetElse(), &txn.Else}} {
		for i, o := range branch.ops {
			op, key, err := opFromPB(o)
			if err != nil {
				return Txn{}, nil, fmt.Errorf("%s op %d: %w", branch.name, i, err)
			}
			*branch.dst = append(*branch.dst, op)
			keys = append(keys, key)
		}
	}
	return txn, keys, nil
}

func compareFromPB(c *kvapi.Compare) (Compare, error) {
	var op CompareOp
	switch c.GetOp() {
	case kvapi.Compare_EQUAL:
		op = CmpEqual
	case kvapi.Compare_NOT_EQUAL:
		op = CmpNotEqual
	case kvapi.Compare_LESS:
		op = CmpLess
	case kvapi.Compare_GREATER:
		op = CmpGreater
	default:
		return Compare{}, wireError("unknown operator %d", c.GetOp())
	}
	key := c.GetKey()
	switch c.GetTarget() {
	case kvapi.Compare_VALUE:
		return CompareValue(key, op, c.GetValue()), nil
	case kvapi.Compare_VERSION:
		return CompareVersion(key, op, c.GetNumber()), nil
	case kvapi.Compare_CREATE_REVISION:
		return CompareCreateRevision(key, op, c.GetNumber()), nil
	case kvapi.Compare_MOD_REVISION:
		return CompareModRevision(key, op, c.GetNumber()), nil
	case kvapi.Compare_EXISTS:
		return KeyExists(key), nil
	case kvapi.Compare_MISSING:
		return KeyMissing(key), nil
	}
	return Compare{}, wireError("unknown target %d", c.GetTarget())
}

func opFromPB(o *kvapi.TxnOp) (Op, []byte, error) {
	switch x := o.GetOp().(type) {
	case *kvapi.TxnOp_Put:
		opts, err := writeOpts(x.Put.GetTtl(), x.Put.GetKeepTtl())
		if err != nil {
			return Op{}, nil, err
		}
		return OpPut(x.Put.GetKey(), x.Put.GetValue(), opts...), x.Put.GetKey(), nil
	case *kvapi.TxnOp_Delete:
		return OpDelete(x.Delete), x.Delete, nil
	case *kvapi.TxnOp_Get:
		return OpGet(x.Get), x.Get, nil
	}
	return Op{}, nil, wireError("no operation")
}

// kvPB is the wire form of a KeyValue; nil for nil.
func kvPB(kv *KeyValue) *kvapi.KeyValue {
	if kv == nil {
		return nil
	}
	out := &kvapi.KeyValue{
		Key:            kv.Key,
		Value:          kv.Value,
		CreateRevision: kv.CreateRevision,
		ModRevision:    kv.ModRevision,
		Version:        kv.Version,
	}
	if !kv.ExpiresAt.IsZero() {
		out.ExpiresAt = timestamppb.New(kv.ExpiresAt)
	}
	return out
}
