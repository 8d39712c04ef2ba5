package kv

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage"
)

// roundTrip encodes and decodes a request, as a Raft log entry would.
func roundTrip(t testing.TB, req *kvpb.Request) *kvpb.Request {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var back kvpb.Request
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return &back
}

// ekeyOf is the engine key the machine stores user key key under.
func ekeyOf(m *Machine, key string) []byte {
	return storage.UserKey(m.Position([]byte(key)), []byte(key))
}
