package kv

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// benchKeys is how many distinct keys the benchmarks spread over, so that
// puts are a mix of updates into an already populated store.
const benchKeys = 10_000

func benchStore(b *testing.B, m *Machine) (*memStore, []string) {
	b.Helper()
	s := newMemStore()
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%06d", i)
		if _, err := m.Apply(s, whole, uint64(i+1), 0, put(keys[i], "initial value")); err != nil {
			b.Fatal(err)
		}
	}
	return s, keys
}

func BenchmarkApplyPut(b *testing.B) {
	m := newMachine()
	s, keys := benchStore(b, m)
	value := make([]byte, 128)
	reqs := make([]*kvpb.Request, len(keys))
	for i, k := range keys {
		reqs[i] = &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(k), Value: value, Ttl: 60e9}}}
	}
	rev := uint64(benchKeys)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rev++
		resp, err := m.Apply(s, whole, rev, int64(rev), reqs[i%len(reqs)])
		if err != nil || resp.GetCode() != kvpb.ErrorCode_OK {
			b.Fatalf("%v %v", resp, err)
		}
	}
}

func BenchmarkReadGet(b *testing.B) {
	m := newMachine()
	s, keys := benchStore(b, m)
	reqs := make([]*kvpb.ReadRequest, len(keys))
	for i, k := range keys {
		reqs[i] = getReq(k)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		resp, err := m.Read(s, whole, 1, reqs[i%len(reqs)])
		if err != nil || resp.GetCode() != kvpb.ErrorCode_OK {
			b.Fatalf("%v %v", resp, err)
		}
	}
}
