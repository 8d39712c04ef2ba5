package router

import (
	"context"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// Scan lists live keys across ranges in (position, key) order, starting
// strictly after req.After (from position 0 when unset), up to req.Limit
// keys (0: the bulk item limit). When more keys may follow, the response's
// Next is the cursor to pass as After to continue; it is unset once the
// whole circle was scanned. Each range is read at the given consistency,
// so a scan is not a snapshot of the whole store: ranges are read one
// after another.
func (r *Router) Scan(ctx context.Context, level rangegroup.Consistency, req *kvpb.ScanRequest) (resp *kvpb.ReadResponse, err error) {
	start := time.Now()
	defer func() { r.metrics.observe("scan", outcomeOf(err, false), start) }()
	if err := r.checkRead(level, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Scan{Scan: req}}); err != nil {
		return nil, fmt.Errorf("router: scan: %w", err)
	}
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = r.cfg.Limits.MaxBatchItems
	}
	out := &kvpb.ReadResponse{}
	// The scan covers positions from pos on; after is the cursor the next
	// range read continues from.
	var pos uint64
	after := req.GetAfter()
	if after != nil {
		pos = after.GetPosition()
	}
	for {
		sub := &kvpb.ScanRequest{After: after, Limit: uint32(limit - len(out.Results)), KeysOnly: req.GetKeysOnly(), Prefix: req.GetPrefix()}
		o := &op{name: "scan", read: &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Scan{Scan: sub}}, level: level, pos: pos, scan: true}
		rep, err := r.route(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("router: scan at position %d: %w", pos, err)
		}
		// The serving range holds pos. Its keys from pos to the end of
		// that stretch of its arc come next in position order; a range
		// wrapping through zero also returns keys of its other stretch,
		// which are not next.
		end := segmentEnd(arcOf(rep.desc), pos)
		res := rep.read.GetResults()
		full, past := false, false
		for k, x := range res {
			p := r.cfg.Position(x.GetKey())
			if p < pos {
				continue
			}
			if p > end {
				past = true
				break
			}
			out.Results = append(out.Results, x)
			after = &kvpb.Cursor{Position: p, Key: x.GetKey()}
			if len(out.Results) == limit {
				full = true
				past = past || k < len(res)-1
				break
			}
		}
		// A cursor outside [pos, end] is in the range's other stretch:
		// nothing more of this stretch follows.
		next := rep.read.GetNext()
		more := next != nil && !past && next.GetPosition() >= pos && next.GetPosition() <= end
		if full {
			if more || past || end != math.MaxUint64 {
				out.Next = proto.Clone(after).(*kvpb.Cursor)
			}
			return out, nil
		}
		if more {
			after = rep.read.GetNext()
			continue
		}
		if end == math.MaxUint64 {
			return out, nil
		}
		// On to the range holding the next position. The cursor sits
		// before every key from there (keys are never empty); keys of
		// end itself that it lets through are skipped above.
		pos = end + 1
		after = &kvpb.Cursor{Position: end, Key: []byte{0}}
	}
}
