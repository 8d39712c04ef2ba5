package raftwire

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/transport/raftwire/raftwirepb"
)

// maxReassembled bounds a message or chunk rebuilt from pieces, so that a
// confused or hostile sender cannot make a receiver buffer without limit.
// It is far above any raft message or snapshot chunk Concord produces.
const maxReassembled = 256 << 20

var errTooLarge = errors.New("reassembled message over the size limit")

// reassembler rebuilds messages (or snapshot chunks) sent in pieces. A
// stream has one: pieces of one message are consecutive on the stream.
type reassembler struct {
	buf     []byte
	rangeID uint64
	active  bool
	limit   int // 0 means maxReassembled
}

// add takes one envelope's bytes and returns the complete encoding once the
// last piece arrived (ok false while pieces are still expected).
func (r *reassembler) add(rangeID uint64, data []byte, partial bool) (whole []byte, ok bool, err error) {
	if r.active && r.rangeID != rangeID {
		return nil, false, fmt.Errorf("piece of range %d inside a message of range %d", rangeID, r.rangeID)
	}
	if !partial && !r.active {
		return data, true, nil
	}
	limit := r.limit
	if limit == 0 {
		limit = maxReassembled
	}
	if len(r.buf)+len(data) > limit {
		return nil, false, errTooLarge
	}
	r.buf = append(r.buf, data...)
	r.rangeID, r.active = rangeID, true
	if partial {
		return nil, false, nil
	}
	whole = r.buf
	r.buf, r.active = nil, false
	return whole, true, nil
}

// decode turns a batch's envelopes into messages, feeding pieces to r.
func decode(b *raftwirepb.Batch, r *reassembler) ([]Message, error) {
	envs := b.GetMessages()
	if len(envs) == 0 {
		return nil, nil
	}
	out := make([]Message, 0, len(envs))
	for _, env := range envs {
		data, ok, err := r.add(env.GetRangeId(), env.GetMessage(), env.GetPartial())
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		m := new(raftpb.Message)
		if err := proto.Unmarshal(data, m); err != nil {
			return nil, fmt.Errorf("decode message of range %d: %w", env.GetRangeId(), err)
		}
		out = append(out, Message{RangeID: env.GetRangeId(), Msg: m})
	}
	return out, nil
}
