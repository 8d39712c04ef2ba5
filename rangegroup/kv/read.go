package kv

import (
	"bytes"
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage"
)

// read executes a validated, in-range read.
func (m *Machine) read(l Limits, r Reader, arc Arc, now int64, req *kvpb.ReadRequest) (*kvpb.ReadResponse, error) {
	v := newView(m, r, now)
	switch op := req.GetOp().(type) {
	case *kvpb.ReadRequest_Get:
		res, err := readGet(v, op.Get.GetKey())
		if err != nil {
			return nil, err
		}
		return &kvpb.ReadResponse{Code: res.Code, Message: res.Message, Results: []*kvpb.Result{res}}, nil
	case *kvpb.ReadRequest_Ttl:
		res, err := readTTL(v, op.Ttl.GetKey())
		if err != nil {
			return nil, err
		}
		return &kvpb.ReadResponse{Code: res.Code, Message: res.Message, Results: []*kvpb.Result{res}}, nil
	case *kvpb.ReadRequest_GetMany:
		resp := &kvpb.ReadResponse{Results: make([]*kvpb.Result, 0, len(op.GetMany.GetKeys()))}
		for _, k := range op.GetMany.GetKeys() {
			res, err := readGet(v, k)
			if err != nil {
				return nil, err
			}
			resp.Results = append(resp.Results, res)
		}
		return resp, nil
	case *kvpb.ReadRequest_Scan:
		return scan(l, r, arc, now, op.Scan)
	}
	return nil, fmt.Errorf("kv: read: unhandled operation %T", req.GetOp())
}

func readGet(v *view, key []byte) (*kvpb.Result, error) {
	cur, err := v.live(key)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return notFound(key), nil
	}
	return okResult(cur, true), nil
}

func readTTL(v *view, key []byte) (*kvpb.Result, error) {
	cur, err := v.live(key)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return notFound(key), nil
	}
	res := okResult(cur, false)
	if cur.ExpiresAt != 0 {
		// Positive: a live record expires strictly after now.
		res.Ttl = cur.ExpiresAt - v.now
	}
	return res, nil
}

// scanExamineLimit bounds the records one scan read looks at beyond those
// it returns, so that a prefix matching few keys of a large range costs
// many short reads (each a bounded hold on the replica) rather than one
// long one. A read that stops there returns the last examined key as its
// cursor.
const scanExamineLimit = 4096

// scan lists live keys after the cursor in (position, key) order. It reads
// one live key past the page to know whether to return a cursor, so a
// caller never fetches an empty last page.
func scan(l Limits, r Reader, arc Arc, now int64, s *kvpb.ScanRequest) (*kvpb.ReadResponse, error) {
	limit := int(s.GetLimit())
	if limit == 0 {
		limit = l.MaxBatchItems
	}
	var after []byte
	if c := s.GetAfter(); c != nil {
		after = storage.UserKey(c.GetPosition(), c.GetKey())
	}
	prefix := s.GetPrefix()
	resp := &kvpb.ReadResponse{}
	var last *kvpb.Cursor
	skipped := 0
	err := scanArc(r, arc, after, func(pos uint64, key []byte, rec *Record) bool {
		if !bytes.HasPrefix(key, prefix) || rec.Expired(now) {
			if skipped++; skipped > scanExamineLimit {
				resp.Next = &kvpb.Cursor{Position: pos, Key: bytes.Clone(key)}
				return false
			}
			return true
		}
		if len(resp.Results) == limit {
			resp.Next = last
			return false
		}
		res := &kvpb.Result{Key: bytes.Clone(key), Value: rec.toValue(!s.GetKeysOnly())}
		if res.Value.Value != nil {
			res.Value.Value = bytes.Clone(res.Value.Value)
		}
		resp.Results = append(resp.Results, res)
		last = &kvpb.Cursor{Position: pos, Key: res.Key}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("kv: scan: %w", err)
	}
	return resp, nil
}
