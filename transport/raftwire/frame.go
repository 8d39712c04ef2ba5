package raftwire

import (
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/transport/raftwire/raftwirepb"
)

// Framing overheads, generous upper bounds of what protobuf adds around the
// payload: an Envelope inside a Batch costs at most its message bytes plus
// two tags, two lengths, a range id varint and the partial flag; a Batch
// without its header adds a seq varint and the want_ack flag.
const (
	envelopeOverhead = 32
	batchOverhead    = 64
	// minFrameBytes is the smallest usable stream message size.
	minFrameBytes = 4 << 10
)

// framer cuts a run of messages into stream messages (batches) of at most
// maxBytes each: as many whole messages as fit, or, for a message too large
// to fit alone, one piece of it per batch. Messages keep their order and a
// message's pieces are consecutive, which is what lets the receiver
// reassemble them with a single buffer per stream.
type framer struct {
	msgs     []Message
	maxBytes int
	next     int   // first message not framed yet
	sizes    []int // encoded sizes, computed on first need (-1: not yet)
	// rest is what remains to be sent of a message travelling in pieces.
	rest      []byte
	restRange uint64
	// invalid counts messages that could not be encoded (and were skipped).
	invalid int
}

// marshalOpts reuses the sizes computed while planning a batch.
var marshalOpts = proto.MarshalOptions{UseCachedSize: true}

func newFramer(msgs []Message, maxBytes int) *framer {
	sizes := make([]int, len(msgs))
	for i := range sizes {
		sizes[i] = -1
	}
	return &framer{msgs: msgs, maxBytes: maxBytes, sizes: sizes}
}

// size is the encoded size of message i.
func (f *framer) size(i int) int {
	if f.sizes[i] < 0 {
		f.sizes[i] = proto.Size(f.msgs[i].Msg)
	}
	return f.sizes[i]
}

// nextBatch returns the envelopes of the next batch and how many messages
// it completes (a piece other than a message's last completes none), or nil
// once every message has been framed.
func (f *framer) nextBatch() ([]*raftwirepb.Envelope, int) {
	budget := f.maxBytes - batchOverhead
	for {
		if len(f.rest) > 0 {
			return f.piece(budget - envelopeOverhead)
		}
		if f.next == len(f.msgs) {
			return nil, 0
		}
		end, total := f.next, 0
		for end < len(f.msgs) && total+f.size(end)+envelopeOverhead <= budget {
			total += f.size(end) + envelopeOverhead
			end++
		}
		if end == f.next {
			// Too large for one stream message: encode it whole, then
			// send it piece by piece.
			m := f.msgs[f.next]
			f.next++
			buf, err := marshalOpts.MarshalAppend(make([]byte, 0, f.size(f.next-1)), m.Msg)
			if err != nil {
				f.invalid++
				continue
			}
			f.rest, f.restRange = buf, m.RangeID
			continue
		}
		envs := f.pack(f.next, end, total)
		f.next = end
		if len(envs) > 0 {
			return envs, len(envs)
		}
	}
}

// pack encodes messages [from, to) into one buffer and returns their
// envelopes, skipping (and counting) any that fail to encode.
func (f *framer) pack(from, to, total int) []*raftwirepb.Envelope {
	arena := make([]byte, 0, total)
	store := make([]raftwirepb.Envelope, to-from)
	envs := make([]*raftwirepb.Envelope, 0, to-from)
	for i := from; i < to; i++ {
		start := len(arena)
		var err error
		arena, err = marshalOpts.MarshalAppend(arena, f.msgs[i].Msg)
		if err != nil {
			arena = arena[:start]
			f.invalid++
			continue
		}
		env := &store[i-from]
		env.RangeId = f.msgs[i].RangeID
		// Capacity clipped so that nothing appended later can reach into
		// the next message's bytes.
		env.Message = arena[start:len(arena):len(arena)]
		envs = append(envs, env)
	}
	return envs
}

// piece returns a batch with the next piece of the message in f.rest.
func (f *framer) piece(limit int) ([]*raftwirepb.Envelope, int) {
	n := min(len(f.rest), limit)
	env := &raftwirepb.Envelope{RangeId: f.restRange, Message: f.rest[:n], Partial: n < len(f.rest)}
	f.rest = f.rest[n:]
	if env.Partial {
		return []*raftwirepb.Envelope{env}, 0
	}
	f.rest = nil
	return []*raftwirepb.Envelope{env}, 1
}
