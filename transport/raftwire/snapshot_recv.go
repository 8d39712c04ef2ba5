package raftwire

import (
	"errors"
	"fmt"
	"io"

	"github.com/concord-kv/concord/transport/raftwire/raftwirepb"
)

// Snapshot serves one incoming snapshot: it hands the header and a chunk
// reader to the Handler and replies with its verdict.
func (s *service) Snapshot(stream raftwirepb.RaftWire_SnapshotServer) error {
	t := s.t
	if !t.enter() {
		return errServiceClosed
	}
	defer t.wg.Done()
	ctx, cancel := t.handlerContext(stream.Context())
	defer cancel()
	parts := pump(t, stream.Context().Done(), stream.Recv)
	recv := func() (*raftwirepb.SnapshotPart, error) {
		select {
		case got := <-parts:
			return got.msg, got.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	first, err := recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if err := t.checkHeader(h); err != nil {
		return err
	}
	from := h.GetFrom()
	r := &chunkReader{t: t, recv: recv}
	herr := t.cfg.Handler.HandleSnapshot(ctx, from, first.GetSnapshotHeader(), r.next)
	if t.ctx.Err() != nil {
		return errServiceClosed
	}
	reply := &raftwirepb.SnapshotReply{}
	if herr != nil {
		reply.Error = herr.Error()
		t.log.Debug("raftwire: snapshot refused", "from", from, "err", herr)
	} else {
		t.stats.snapshotsReceived.Add(1)
	}
	return stream.SendAndClose(reply)
}

// chunkReader rebuilds the sender's chunks from the stream's parts.
type chunkReader struct {
	t    *Transport
	recv func() (*raftwirepb.SnapshotPart, error)
	asm  reassembler
	err  error // sticky: io.EOF after the last chunk, or the failure
}

// next returns the following chunk, io.EOF after the last one.
func (r *chunkReader) next() ([]byte, error) {
	for r.err == nil {
		p, err := r.recv()
		switch {
		case errors.Is(err, io.EOF) && r.asm.active:
			r.err = errors.New("raftwire: snapshot ended inside a chunk")
		case errors.Is(err, io.EOF):
			r.err = io.EOF
		case err != nil:
			r.err = fmt.Errorf("raftwire: receive snapshot: %w", err)
		default:
			data, ok, err := r.asm.add(0, p.GetData(), p.GetPartial())
			if err != nil {
				r.err = fmt.Errorf("raftwire: receive snapshot: %w", err)
				break
			}
			if ok {
				r.t.stats.snapBytesReceived.Add(uint64(len(data)))
				return data, nil
			}
		}
	}
	return nil, r.err
}
