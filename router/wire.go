package router

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/router/routerpb"
	"github.com/concord-kv/concord/storage/storagepb"
)

// This file maps ops, replies and errors to and from the Forward
// service's messages. Errors keep their meaning across the hop: what a
// node's Store said is rebuilt on the caller's side so that errors.Is and
// errors.As give the same answers as on the node.

var levels = []struct {
	level rangegroup.Consistency
	wire  routerpb.Consistency
}{
	{rangegroup.Leader, routerpb.Consistency_LEADER},
	{rangegroup.Strong, routerpb.Consistency_STRONG},
	{rangegroup.Eventual, routerpb.Consistency_EVENTUAL},
}

func levelToWire(l rangegroup.Consistency) routerpb.Consistency {
	for _, x := range levels {
		if x.level == l {
			return x.wire
		}
	}
	return routerpb.Consistency(-1)
}

func levelFromWire(w routerpb.Consistency) (rangegroup.Consistency, error) {
	for _, x := range levels {
		if x.wire == w {
			return x.level, nil
		}
	}
	return 0, fmt.Errorf("consistency %v: %w", w, kv.ErrInvalidArgument)
}

// encodeOp builds the Forward request of one attempt of o.
func encodeOp(rangeID, gen uint64, o *op) (*routerpb.ServeRequest, error) {
	req := &routerpb.ServeRequest{RangeId: rangeID, Position: o.pos, Generation: gen, Consistency: levelToWire(o.level)}
	var err error
	if o.write != nil {
		var b []byte
		b, err = proto.Marshal(o.write)
		req.Op = &routerpb.ServeRequest_Write{Write: b}
	} else {
		var b []byte
		b, err = proto.Marshal(o.read)
		req.Op = &routerpb.ServeRequest_Read{Read: b}
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", o.name, err)
	}
	return req, nil
}

// decodeOp rebuilds the op of a Forward request.
func decodeOp(req *routerpb.ServeRequest) (*op, error) {
	o := &op{pos: req.GetPosition()}
	switch x := req.GetOp().(type) {
	case *routerpb.ServeRequest_Write:
		o.write = &kvpb.Request{}
		if err := proto.Unmarshal(x.Write, o.write); err != nil {
			return nil, fmt.Errorf("decode write: %v: %w", err, kv.ErrInvalidArgument)
		}
		o.name = writeName(o.write)
	case *routerpb.ServeRequest_Read:
		o.read = &kvpb.ReadRequest{}
		if err := proto.Unmarshal(x.Read, o.read); err != nil {
			return nil, fmt.Errorf("decode read: %v: %w", err, kv.ErrInvalidArgument)
		}
		level, err := levelFromWire(req.GetConsistency())
		if err != nil {
			return nil, err
		}
		o.level, o.name = level, readName(o.read)
		_, o.scan = o.read.GetOp().(*kvpb.ReadRequest_Scan)
	default:
		return nil, fmt.Errorf("forward request without an operation: %w", kv.ErrInvalidArgument)
	}
	return o, nil
}

// errorKind classifies an error a Store (or serve) returned.
func errorKind(err error) routerpb.ErrorKind {
	var nl *rangegroup.NotLeaderError
	switch {
	case err == nil:
		return routerpb.ErrorKind_NONE
	case errors.As(err, &nl):
		return routerpb.ErrorKind_NOT_LEADER
	case errors.Is(err, kv.ErrRangeMismatch):
		return routerpb.ErrorKind_RANGE_MISMATCH
	case errors.Is(err, rangegroup.ErrRangeNotFound):
		return routerpb.ErrorKind_RANGE_NOT_FOUND
	case errors.Is(err, rangegroup.ErrUnavailable):
		return routerpb.ErrorKind_UNAVAILABLE
	case errors.Is(err, rangegroup.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return routerpb.ErrorKind_TIMEOUT
	case errors.Is(err, context.Canceled):
		return routerpb.ErrorKind_CANCELED
	case errors.Is(err, rangegroup.ErrStopped):
		return routerpb.ErrorKind_STOPPED
	case kv.CodeOf(err) != kvpb.ErrorCode_INTERNAL:
		return routerpb.ErrorKind_KV
	}
	return routerpb.ErrorKind_INTERNAL
}

// encodeReply builds the Forward reply for what serve returned.
func encodeReply(rep *reply, err error) *routerpb.ServeReply {
	out := &routerpb.ServeReply{}
	if rep != nil {
		out.RangeId, out.Leader = rep.rangeID, rep.leader
		if rep.desc != nil {
			// Marshalling a descriptor only fails for invalid UTF-8 in a
			// node name, which the caller can do without.
			out.Descriptor_, _ = proto.Marshal(rep.desc)
		}
	}
	if err == nil {
		var merr error
		if rep.write != nil {
			out.Response, merr = proto.Marshal(rep.write)
		} else {
			out.Response, merr = proto.Marshal(rep.read)
		}
		if merr == nil {
			return out
		}
		err = fmt.Errorf("encode response: %w", merr)
	}
	var uo *unknownOutcome
	if errors.As(err, &uo) {
		out.OutcomeUnknown = true
		err = uo.cause
	}
	out.Error = errorKind(err)
	out.Message = err.Error()
	out.KvCode = int32(kv.CodeOf(err))
	return out
}

// decodeReply rebuilds the reply and error a node answered for o. It
// returns a nil reply only when the answer cannot be decoded.
func decodeReply(out *routerpb.ServeReply, o *op) (*reply, error) {
	rep := &reply{rangeID: out.GetRangeId(), leader: out.GetLeader()}
	if b := out.GetDescriptor_(); len(b) > 0 {
		rep.desc = &storagepb.RangeDescriptor{}
		if err := proto.Unmarshal(b, rep.desc); err != nil {
			return nil, fmt.Errorf("decode descriptor: %w", err)
		}
	}
	if out.GetError() == routerpb.ErrorKind_NONE {
		var err error
		if o.write != nil {
			rep.write = &kvpb.Response{}
			err = proto.Unmarshal(out.GetResponse(), rep.write)
		} else {
			rep.read = &kvpb.ReadResponse{}
			err = proto.Unmarshal(out.GetResponse(), rep.read)
		}
		if err != nil {
			return nil, fmt.Errorf("decode response: %w", err)
		}
		return rep, nil
	}
	err := errorFromWire(out, rep)
	if out.GetOutcomeUnknown() {
		err = &unknownOutcome{cause: err}
	}
	return rep, err
}

// errorFromWire rebuilds the error of a reply.
func errorFromWire(out *routerpb.ServeReply, rep *reply) error {
	msg := out.GetMessage()
	remote := func(errs ...error) error { return &remoteError{msg: msg, errs: errs} }
	switch out.GetError() {
	case routerpb.ErrorKind_NOT_LEADER:
		return &rangegroup.NotLeaderError{RangeID: rep.rangeID, Leader: rep.leader, Descriptor: rep.desc}
	case routerpb.ErrorKind_RANGE_MISMATCH:
		return remote(&rangegroup.RangeMismatchError{Descriptor: rep.desc}, kv.ErrRangeMismatch)
	case routerpb.ErrorKind_RANGE_NOT_FOUND:
		return remote(rangegroup.ErrRangeNotFound)
	case routerpb.ErrorKind_UNAVAILABLE:
		return remote(rangegroup.ErrUnavailable)
	case routerpb.ErrorKind_TIMEOUT:
		return remote(rangegroup.ErrTimeout, context.DeadlineExceeded)
	case routerpb.ErrorKind_CANCELED:
		return remote(context.Canceled)
	case routerpb.ErrorKind_STOPPED:
		return remote(rangegroup.ErrStopped)
	case routerpb.ErrorKind_KV:
		if sentinel := kv.ErrorOf(kvpb.ErrorCode(out.GetKvCode()), ""); sentinel != nil {
			return remote(sentinel)
		}
	}
	return errors.New(msg)
}

// mismatch is the error of a request that reached a range not holding its
// position, with the range's descriptor, as the Store builds it.
func mismatch(d *storagepb.RangeDescriptor, pos uint64) error {
	return &remoteError{
		msg:  fmt.Sprintf("range %d (%d, %d] generation %d: position %d outside the range", d.GetRangeId(), d.GetStart(), d.GetEnd(), d.GetGeneration(), pos),
		errs: []error{&rangegroup.RangeMismatchError{Descriptor: d}, kv.ErrRangeMismatch},
	}
}
