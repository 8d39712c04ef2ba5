package router

import (
	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage/storagepb"
)

// op is one request for one range: a write or a read, and where it goes.
type op struct {
	// name labels metrics: the operation's name (put, get_many, ...).
	name  string
	write *kvpb.Request
	read  *kvpb.ReadRequest
	level rangegroup.Consistency
	// pos is the position the request is routed by: its first key's (for
	// a scan, the position it continues from).
	pos uint64
	// positions are those of every key; they must all lie in one range.
	positions []uint64
	// part: the op is one range's part of a bulk request, which the
	// caller re-splits when its keys turn out to span ranges.
	part bool
	// scan: a scan, which the serving range must hold pos for.
	scan bool
}

// reply is a node's answer to an op, with what it said about the range.
type reply struct {
	write *kvpb.Response
	read  *kvpb.ReadResponse
	// rangeID is the range that served (or that desc and leader describe).
	rangeID uint64
	// desc is the serving node's descriptor of rangeID; nil when it has the
	// generation the caller sent.
	desc *storagepb.RangeDescriptor
	// leader is who the serving node believes leads rangeID.
	leader string
}

// writeName names a write operation for metrics and errors.
func writeName(req *kvpb.Request) string {
	switch req.GetOp().(type) {
	case *kvpb.Request_Put:
		return "put"
	case *kvpb.Request_Delete:
		return "delete"
	case *kvpb.Request_Touch:
		return "touch"
	case *kvpb.Request_PutMany:
		return "put_many"
	case *kvpb.Request_DeleteMany:
		return "delete_many"
	case *kvpb.Request_TouchMany:
		return "touch_many"
	case *kvpb.Request_Txn:
		return "txn"
	case *kvpb.Request_Sweep:
		return "sweep"
	case *kvpb.Request_Read:
		return "log_read"
	}
	return "unknown"
}

// readName names a read operation for metrics and errors.
func readName(req *kvpb.ReadRequest) string {
	switch req.GetOp().(type) {
	case *kvpb.ReadRequest_Get:
		return "get"
	case *kvpb.ReadRequest_GetMany:
		return "get_many"
	case *kvpb.ReadRequest_Ttl:
		return "ttl"
	case *kvpb.ReadRequest_Scan:
		return "scan"
	}
	return "unknown"
}

// positions maps keys to ring positions.
func (r *Router) positions(keys [][]byte) []uint64 {
	out := make([]uint64, len(keys))
	for i, k := range keys {
		out[i] = r.cfg.Position(k)
	}
	return out
}

// voters lists the nodes of d's voting replicas, in descriptor order:
// learners may be far behind, or not initialized, and never lead.
func voters(d *storagepb.RangeDescriptor) []string {
	out := make([]string, 0, len(d.GetReplicas()))
	for _, rd := range d.GetReplicas() {
		if rd.GetType() == storagepb.ReplicaType_VOTER {
			out = append(out, rd.GetNode())
		}
	}
	return out
}
