package client

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/concord-kv/concord"
	kvapi "github.com/concord-kv/concord/api/kvpb"
)

// ttlPB is the wire form of a put's WithTTL: unset when not given.
func ttlPB(o concord.CallOptions) *durationpb.Duration {
	if !o.HasTTL {
		return nil
	}
	return durationpb.New(o.TTL)
}

// durationPB is the wire form of a duration argument; unset for zero.
func durationPB(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func consistencyPB(c concord.Consistency) kvapi.Consistency {
	switch c {
	case concord.Strong:
		return kvapi.Consistency_CONSISTENCY_STRONG
	case concord.Eventual:
		return kvapi.Consistency_CONSISTENCY_EVENTUAL
	}
	return kvapi.Consistency_CONSISTENCY_LEADER
}

// conditionPB is the wire form of the conditions; nil for none, which the
// node rejects as it rejects a PutIf without conditions.
func conditionPB(c *concord.Conditions) *kvapi.Condition {
	if c == nil {
		return nil
	}
	return &kvapi.Condition{
		Value:        c.Value,
		Version:      c.Version,
		ModRevision:  c.ModRevision,
		MustExist:    c.MustExist,
		MustNotExist: c.MustNotExist,
	}
}

// kvFromPB builds a KeyValue; nil for nil. read makes an empty value
// non-nil, since only writes' (and keys-only scans') results have a nil
// Value, as in process.
func kvFromPB(kv *kvapi.KeyValue, read bool) *concord.KeyValue {
	if kv == nil {
		return nil
	}
	out := &concord.KeyValue{
		Key:            kv.GetKey(),
		Value:          kv.GetValue(),
		CreateRevision: kv.GetCreateRevision(),
		ModRevision:    kv.GetModRevision(),
		Version:        kv.GetVersion(),
	}
	if read && out.Value == nil {
		out.Value = []byte{}
	}
	if !read {
		out.Value = nil
	}
	if at := kv.GetExpiresAt(); at != nil {
		out.ExpiresAt = at.AsTime().Local()
	}
	return out
}

var comparePBTargets = map[concord.CompareTarget]kvapi.Compare_Target{
	concord.TargetValue:          kvapi.Compare_VALUE,
	concord.TargetVersion:        kvapi.Compare_VERSION,
	concord.TargetCreateRevision: kvapi.Compare_CREATE_REVISION,
	concord.TargetModRevision:    kvapi.Compare_MOD_REVISION,
	concord.TargetExists:         kvapi.Compare_EXISTS,
	concord.TargetMissing:        kvapi.Compare_MISSING,
}

var comparePBOps = map[concord.CompareOp]kvapi.Compare_Op{
	concord.CmpEqual:    kvapi.Compare_EQUAL,
	concord.CmpNotEqual: kvapi.Compare_NOT_EQUAL,
	concord.CmpLess:     kvapi.Compare_LESS,
	concord.CmpGreater:  kvapi.Compare_GREATER,
}

// txnPB is the wire form of a transaction, with its first key (nil for
// an empty transaction, which the node rejects).
func txnPB(txn concord.Txn) (*kvapi.TxnRequest, []byte, error) {
	req := &kvapi.TxnRequest{}
	var first []byte
	note := func(k []byte) {
		if first == nil {
			first = k
		}
	}
	for _, c := range txn.If {
		s, err := c.Spec()
		if err != nil {
			return nil, nil, err
		}
		req.Compares = append(req.Compares, &kvapi.Compare{Key: s.Key, Target: comparePBTargets[s.Target], Op: comparePBOps[s.Op], Value: s.Value, Number: s.Number})
		note(s.Key)
	}
	for _, branch := range []struct {
		ops []concord.Op
		dst *[]*kvapi.TxnOp
	}{{txn.Then, &req.Then}, {txn.Else, &req.Else}} {
		for _, op := range branch.ops {
			s, err := op.Spec()
			if err != nil {
				return nil, nil, err
			}
			*branch.dst = append(*branch.dst, opPB(s))
			note(s.Key)
		}
	}
	return req, first, nil
}

func opPB(s concord.OpSpec) *kvapi.TxnOp {
	switch s.Kind {
	case concord.OpKindPut:
		p := &kvapi.TxnPut{Key: s.Key, Value: s.Value, KeepTtl: s.KeepTTL}
		if s.TTL != 0 {
			p.Ttl = durationpb.New(s.TTL)
		}
		return &kvapi.TxnOp{Op: &kvapi.TxnOp_Put{Put: p}}
	case concord.OpKindDelete:
		return &kvapi.TxnOp{Op: &kvapi.TxnOp_Delete{Delete: s.Key}}
	}
	return &kvapi.TxnOp{Op: &kvapi.TxnOp_Get{Get: s.Key}}
}
