package raftwire

import (
	"context"

	"go.etcd.io/raft/v3/raftpb"
)

// Message is one raft message of one range.
type Message struct {
	// RangeID names the raft group the message belongs to.
	RangeID uint64
	// Msg is the raft message; its From and To are replica ids. raftpb
	// messages (go.etcd.io/raft/v3 v3.7) are protobuf-go messages that must
	// not be copied, hence the pointer. Send takes ownership: the caller
	// must not modify a message after sending it.
	Msg *raftpb.Message
}

// Handler receives what peers send. The multi-raft Store implements it.
type Handler interface {
	// HandleMessages is called with each received batch, in the order the
	// peer sent them; calls for one peer never overlap. It must not block
	// for long (the Store only enqueues): it holds up that peer's stream.
	// msgs is the handler's to keep.
	HandleMessages(from string, msgs []Message)

	// HandleSnapshot consumes one incoming snapshot stream: header is the
	// sender's opaque header, next returns the following chunk (exactly as
	// the sender yielded it), io.EOF after the last one. Returning nil
	// acknowledges the snapshot to the sender; an error is reported back to
	// it. ctx ends if the sender goes away or the Transport closes.
	HandleSnapshot(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error
}
