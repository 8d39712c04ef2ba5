package concord

import (
	"context"
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// Scan lists the live keys of the whole store, one page at a time, in ring
// order: by the ring position of each key's hash tag, then by key. That is
// not key order (keys with no common tag are scattered), but keys sharing
// a tag come out together.
//
// A page starts strictly after the key after (nil: at the beginning) and
// holds at most limit keys (0: Limits.MaxBatchItems, which is also the
// most allowed). more reports that keys may follow: pass the last key of
// the page as the next call's after. A following page may be empty.
//
// Each range is read at the call's consistency level, one range after
// another, so a scan is not a snapshot of the store: a key written during
// a scan may or may not be listed, and a long scan may list one key's
// older and another's newer state. Every listed key existed, with that
// value, at some point.
//
// Options: WithConsistency, WithKeysOnly, WithPrefix.
func (n *Node) Scan(ctx context.Context, after []byte, limit int, opts ...Option) (page []*KeyValue, more bool, err error) {
	const op = "scan"
	o, err := parseOptions(scanOptions, opts)
	if err != nil {
		return nil, false, inputError(op, err)
	}
	if limit < 0 {
		return nil, false, inputError(op, fmt.Errorf("%w: negative limit %d", ErrInvalidArgument, limit))
	}
	if limit > n.cfg.Limits.MaxBatchItems {
		return nil, false, inputError(op, fmt.Errorf("%w: limit %d exceeds %d", ErrBatchTooLarge, limit, n.cfg.Limits.MaxBatchItems))
	}
	req := &kvpb.ScanRequest{Limit: uint32(limit), KeysOnly: o.keysOnly, Prefix: o.prefix}
	if after != nil {
		req.After = &kvpb.Cursor{Position: n.position(after), Key: after}
	}
	resp, err := n.read(ctx, op, o.consistency, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Scan{Scan: req}})
	if err != nil {
		return nil, false, err
	}
	if err := outcomeError(op, resp.GetCode(), resp.GetMessage()); err != nil {
		return nil, false, err
	}
	page = make([]*KeyValue, 0, len(resp.GetResults()))
	for _, r := range resp.GetResults() {
		if err := outcomeError(op, r.GetCode(), r.GetMessage()); err != nil {
			return nil, false, err
		}
		if o.keysOnly {
			page = append(page, keyValue(r.GetKey(), r.GetValue()))
		} else {
			page = append(page, readKeyValue(r.GetKey(), r.GetValue()))
		}
	}
	return page, resp.GetNext() != nil, nil
}
