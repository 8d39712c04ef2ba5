package concord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// The key-value API of a Node. Any node serves any key: the router sends
// each request to the leader of the key's range (a write) or to a replica
// chosen by the consistency level (a read), wherever they are.
//
// Every method:
//   - validates its input first against Config.Limits (keys 1..MaxKeySize
//     bytes, values up to MaxValueSize, bulk calls up to MaxBatchItems) and
//     its options; bad input returns an error wrapping ErrInvalidKey,
//     ErrValueTooLarge, ErrBatchTooLarge or ErrInvalidArgument, and nothing
//     is sent or changed;
//   - bounds the call by ctx's deadline, or by Config.RequestTimeout when
//     ctx has none;
//   - reports outcomes with the sentinel errors of kv_errors.go, so callers
//     branch with errors.Is(err, concord.ErrNotFound) and the like.
//
// Writes are linearizable and acknowledged only once a quorum of the
// range's replicas has committed them and the range's leader has applied
// them. A
// key's range is decided by its hash tag (the part between the first '{'
// and the next '}', or the whole key): keys sharing a tag, such as
// "{user:1}:name" and "{user:1}:email", always share a range, which is what
// makes multi-key calls on them atomic.

// KeyValue is a key with its value and metadata.
type KeyValue struct {
	// Key and Value are the key and its value. Value is nil in the result
	// of a write, which reports only the metadata it produced.
	Key, Value []byte
	// CreateRevision is the revision of the write that created the key
	// (reset when it is deleted or expires and is written again);
	// ModRevision is that of its last write. A revision numbers the
	// commands of the key's range (its Raft log index, plus an offset that
	// merges move on): a key's revisions grow with each write, also when
	// its range splits or merges, but revisions of keys in different
	// ranges are not comparable.
	CreateRevision, ModRevision uint64
	// Version counts the writes since creation: 1 when created, +1 for
	// every put or touch.
	Version uint64
	// ExpiresAt is when the key expires by the range leader's clock; the
	// zero Time means never.
	ExpiresAt time.Time
}

// keyValue builds a KeyValue from the wire value of a write; nil for nil.
func keyValue(key []byte, v *kvpb.Value) *KeyValue {
	if v == nil {
		return nil
	}
	out := &KeyValue{
		Key:            bytes.Clone(key),
		Value:          v.GetValue(),
		CreateRevision: v.GetCreateRevision(),
		ModRevision:    v.GetModRevision(),
		Version:        v.GetVersion(),
	}
	if at := v.GetExpiresAt(); at != 0 {
		out.ExpiresAt = time.Unix(0, at)
	}
	return out
}

// readKeyValue builds a KeyValue from the wire value of a read; nil for
// nil. An empty value is non-nil, so that only writes' results have a nil
// Value (the wire does not tell nil from empty).
func readKeyValue(key []byte, v *kvpb.Value) *KeyValue {
	out := keyValue(key, v)
	if out != nil && out.Value == nil {
		out.Value = []byte{}
	}
	return out
}

// Put writes value under key, creating the key or replacing its value.
// The key's expiry is cleared unless WithTTL sets a new one or WithKeepTTL
// keeps the old one. It returns the metadata written (Value nil).
//
// Options: WithTTL, WithKeepTTL.
func (n *Node) Put(ctx context.Context, key, value []byte, opts ...Option) (*KeyValue, error) {
	const op = "put"
	o, err := parseOptions(writeOptions, opts)
	if err != nil {
		return nil, inputError(op, err)
	}
	return n.writeOne(ctx, op, key, &kvpb.Request{Op: &kvpb.Request_Put{Put: o.put(key, value)}})
}

// PutIf writes value under key only if every given condition holds (they
// combine with AND), atomically with checking them: the compare-and-swap
// of optimistic concurrency. A condition that does not hold returns
// ErrConditionFailed and writes nothing; a missing or expired key fails
// every condition but IfNotExists.
//
// Options: at least one of IfValue, IfVersion, IfModRevision, IfExists,
// IfNotExists; WithTTL, WithKeepTTL.
func (n *Node) PutIf(ctx context.Context, key, value []byte, opts ...Option) (*KeyValue, error) {
	const op = "put_if"
	o, err := parseOptions(writeOptions|optCondition, opts)
	if err != nil {
		return nil, inputError(op, err)
	}
	if o.given&optCondition == 0 {
		return nil, inputError(op, fmt.Errorf("%w: no condition (use Put for an unconditional write)", ErrInvalidArgument))
	}
	p := o.put(key, value)
	p.Condition = o.condition()
	return n.writeOne(ctx, op, key, &kvpb.Request{Op: &kvpb.Request_Put{Put: p}})
}

// Get reads key. A missing or expired key returns ErrNotFound.
//
// Options: WithConsistency.
func (n *Node) Get(ctx context.Context, key []byte, opts ...Option) (*KeyValue, error) {
	const op = "get"
	o, err := parseOptions(readOptions, opts)
	if err != nil {
		return nil, inputError(op, err)
	}
	resp, err := n.read(ctx, op, o.consistency, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: key}}})
	if err != nil {
		return nil, err
	}
	r, err := singleResult(op, resp.GetCode(), resp.GetMessage(), resp.GetResults())
	if err != nil {
		return nil, err
	}
	return readKeyValue(key, r.GetValue()), nil
}

// TTL returns how long key has left to live, by the range's clock (the
// leader's, as every replica applies it); 0 means the key never expires.
// A missing or expired key returns ErrNotFound.
//
// Options: WithConsistency.
func (n *Node) TTL(ctx context.Context, key []byte, opts ...Option) (time.Duration, error) {
	const op = "ttl"
	o, err := parseOptions(readOptions, opts)
	if err != nil {
		return 0, inputError(op, err)
	}
	resp, err := n.read(ctx, op, o.consistency, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Ttl{Ttl: &kvpb.TTLRequest{Key: key}}})
	if err != nil {
		return 0, err
	}
	r, err := singleResult(op, resp.GetCode(), resp.GetMessage(), resp.GetResults())
	if err != nil {
		return 0, err
	}
	return time.Duration(r.GetTtl()), nil
}

// Delete removes key. A missing or expired key returns ErrNotFound (and
// nothing changes), so callers that only want the key gone may ignore
// that error.
//
// Options: none.
func (n *Node) Delete(ctx context.Context, key []byte, opts ...Option) error {
	const op = "delete"
	if _, err := parseOptions(noOptions, opts); err != nil {
		return inputError(op, err)
	}
	_, err := n.writeOne(ctx, op, key, &kvpb.Request{Op: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: key}}})
	return err
}

// DeleteIf removes key only if every given condition holds, atomically with
// checking them (a lock released only by its owner: DeleteIf(key,
// IfValue(owner))). A condition that does not hold returns
// ErrConditionFailed and removes nothing; a missing or expired key fails
// every condition.
//
// Options: at least one of IfValue, IfVersion, IfModRevision, IfExists.
func (n *Node) DeleteIf(ctx context.Context, key []byte, opts ...Option) error {
	const op = "delete_if"
	o, err := parseOptions(optCondition, opts)
	if err != nil {
		return inputError(op, err)
	}
	switch {
	case o.given&optCondition == 0:
		return inputError(op, fmt.Errorf("%w: no condition (use Delete for an unconditional delete)", ErrInvalidArgument))
	case o.cond.mustNotExist:
		return inputError(op, fmt.Errorf("%w: IfNotExists leaves nothing to delete", ErrInvalidArgument))
	}
	d := &kvpb.DeleteRequest{Key: key, Condition: o.condition()}
	_, err = n.writeOne(ctx, op, key, &kvpb.Request{Op: &kvpb.Request_Delete{Delete: d}})
	return err
}

// Touch sets how long an existing key has left to live, from now: ttl = 0
// removes its expiry. It is a write: the key's ModRevision and Version
// change, its value does not. A missing or expired key returns
// ErrNotFound (touch cannot revive an expired key). It returns the
// metadata written (Value nil).
//
// Options: none.
func (n *Node) Touch(ctx context.Context, key []byte, ttl time.Duration, opts ...Option) (*KeyValue, error) {
	const op = "touch"
	if _, err := parseOptions(noOptions, opts); err != nil {
		return nil, inputError(op, err)
	}
	if err := checkTTL(ttl); err != nil {
		return nil, inputError(op, err)
	}
	t := &kvpb.TouchRequest{Key: key, Ttl: int64(ttl)}
	return n.writeOne(ctx, op, key, &kvpb.Request{Op: &kvpb.Request_Touch{Touch: t}})
}

// put is the wire form of a put of key and value under these options.
func (o *options) put(key, value []byte) *kvpb.PutRequest {
	return &kvpb.PutRequest{Key: key, Value: value, Ttl: int64(o.ttl), KeepTtl: o.keepTTL}
}

// writeOne sends a single-key write and returns the metadata its one result
// reports.
func (n *Node) writeOne(ctx context.Context, op string, key []byte, req *kvpb.Request) (*KeyValue, error) {
	resp, err := n.write(ctx, op, req)
	if err != nil {
		return nil, err
	}
	r, err := singleResult(op, resp.GetCode(), resp.GetMessage(), resp.GetResults())
	if err != nil {
		return nil, err
	}
	return keyValue(key, r.GetValue()), nil
}

// singleResult checks the outcome of a single-key command and returns its
// one result.
func singleResult(op string, code kvpb.ErrorCode, msg string, results []*kvpb.Result) (*kvpb.Result, error) {
	if err := outcomeError(op, code, msg); err != nil {
		return nil, err
	}
	if len(results) != 1 {
		return nil, fmt.Errorf("concord: %s: %d results for one key", op, len(results))
	}
	if err := outcomeError(op, results[0].GetCode(), results[0].GetMessage()); err != nil {
		return nil, err
	}
	return results[0], nil
}

// write validates req and sends it to the leader of its range. On error
// the response is nil, except for a bulk write that failed in part.
func (n *Node) write(ctx context.Context, op string, req *kvpb.Request) (*kvpb.Response, error) {
	if err := n.cfg.Limits.Validate(req); err != nil {
		return nil, inputError(op, err)
	}
	if n.closed() {
		return nil, callError(op, ErrClosed)
	}
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	resp, err := n.router.Write(ctx, req)
	if err != nil {
		// A bulk write split across ranges may fail in part: the router
		// returns the partial response with the error, and it is kept.
		return resp, callError(op, n.closedDuring(err))
	}
	return resp, nil
}

// read validates req and sends it to a replica of its range.
func (n *Node) read(ctx context.Context, op string, level Consistency, req *kvpb.ReadRequest) (*kvpb.ReadResponse, error) {
	if err := n.cfg.Limits.ValidateRead(req); err != nil {
		return nil, inputError(op, err)
	}
	if n.closed() {
		return nil, callError(op, ErrClosed)
	}
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	resp, err := n.router.Read(ctx, level, req)
	if err != nil {
		return nil, callError(op, n.closedDuring(err))
	}
	return resp, nil
}

// closed reports whether Close (or a failed Open) has begun shutting the
// node down; calls then fail at once instead of the router retrying until
// the deadline.
func (n *Node) closed() bool { return n.stopping.Load() }

// closedDuring adds ErrClosed to the error of a call that failed because
// the node was closed while it ran.
func (n *Node) closedDuring(err error) error {
	if !errors.Is(err, ErrClosed) && n.closed() {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// withDeadline applies Config.RequestTimeout to a context without a
// deadline, so that no call can wait forever on an unavailable range.
func (n *Node) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, n.cfg.RequestTimeout)
}
