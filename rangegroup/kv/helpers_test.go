package kv

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// testPosition places keys of the form "#N:rest" at position N, so tests
// can put keys exactly where an arc's edges are; every other key is hashed
// like the ring does (xxhash of its hash tag).
func testPosition(key []byte) uint64 {
	if len(key) > 1 && key[0] == '#' {
		if i := bytes.IndexByte(key, ':'); i > 1 {
			if n, err := strconv.ParseUint(string(key[1:i]), 10, 64); err == nil {
				return n
			}
		}
	}
	return xxhash.Sum64(HashTag(key))
}

func newMachine() *Machine {
	return &Machine{Limits: DefaultLimits(), Position: testPosition}
}

// whole is the arc covering the whole circle.
var whole = Arc{}

// fixture applies commands to one in-memory store with increasing
// revisions at a clock the test controls.
type fixture struct {
	t   testing.TB
	m   *Machine
	s   *memStore
	arc Arc
	rev uint64
	now int64
}

func newFixture(t testing.TB) *fixture {
	return &fixture{t: t, m: newMachine(), s: newMemStore(), arc: whole, now: 1_000_000_000}
}

// apply applies req as the next revision and fails the test on a store
// error.
func (f *fixture) apply(req *kvpb.Request) *kvpb.Response {
	f.t.Helper()
	f.rev++
	resp, err := f.m.Apply(f.s, f.arc, f.rev, f.now, req)
	if err != nil {
		f.t.Fatalf("apply %v: %v", req, err)
	}
	if resp.GetRevision() != f.rev {
		f.t.Fatalf("response revision %d, want %d", resp.GetRevision(), f.rev)
	}
	return resp
}

// applyUnchanged applies req, expects code, and checks that the store is
// byte-for-byte what it was before.
func (f *fixture) applyUnchanged(req *kvpb.Request, code kvpb.ErrorCode) *kvpb.Response {
	f.t.Helper()
	before := f.s.dump()
	resp := f.apply(req)
	if resp.GetCode() != code {
		f.t.Fatalf("code %v (%s), want %v", resp.GetCode(), resp.GetMessage(), code)
	}
	if !bytes.Equal(before, f.s.dump()) {
		f.t.Fatalf("%v changed the store", code)
	}
	return resp
}

func (f *fixture) read(req *kvpb.ReadRequest) *kvpb.ReadResponse {
	f.t.Helper()
	resp, err := f.m.Read(f.s, f.arc, f.now, req)
	if err != nil {
		f.t.Fatalf("read %v: %v", req, err)
	}
	return resp
}

// mustPut puts key=val and fails unless it succeeded.
func (f *fixture) mustPut(key, val string, opts ...func(*kvpb.PutRequest)) *kvpb.Value {
	f.t.Helper()
	resp := f.apply(put(key, val, opts...))
	wantCode(f.t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	return resp.GetResults()[0].GetValue()
}

// get reads key, returning nil when it is not found.
func (f *fixture) get(key string) *kvpb.Value {
	f.t.Helper()
	resp := f.read(getReq(key))
	switch resp.GetCode() {
	case kvpb.ErrorCode_OK:
		return resp.GetResults()[0].GetValue()
	case kvpb.ErrorCode_NOT_FOUND:
		return nil
	}
	f.t.Fatalf("get %q: %v %s", key, resp.GetCode(), resp.GetMessage())
	return nil
}

func wantCode(t testing.TB, got, want kvpb.ErrorCode, msg string) {
	t.Helper()
	if got != want {
		t.Fatalf("code %v (%q), want %v", got, msg, want)
	}
}

func wantValue(t testing.TB, got, want *kvpb.Value) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("value %v, want %v", got, want)
	}
}

func putOp(key, val string, opts ...func(*kvpb.PutRequest)) *kvpb.PutRequest {
	p := &kvpb.PutRequest{Key: []byte(key), Value: []byte(val)}
	for _, o := range opts {
		o(p)
	}
	return p
}

func put(key, val string, opts ...func(*kvpb.PutRequest)) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_Put{Put: putOp(key, val, opts...)}}
}

func withTTL(ttl int64) func(*kvpb.PutRequest) {
	return func(p *kvpb.PutRequest) { p.Ttl = ttl }
}

func keepTTL(p *kvpb.PutRequest) { p.KeepTtl = true }

func withCond(c *kvpb.Condition) func(*kvpb.PutRequest) {
	return func(p *kvpb.PutRequest) { p.Condition = c }
}

func del(key string, c *kvpb.Condition) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: []byte(key), Condition: c}}}
}

func touch(key string, ttl int64) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_Touch{Touch: &kvpb.TouchRequest{Key: []byte(key), Ttl: ttl}}}
}

func putMany(items ...*kvpb.PutRequest) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: &kvpb.PutManyRequest{Items: items}}}
}

func deleteMany(items ...*kvpb.DeleteRequest) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_DeleteMany{DeleteMany: &kvpb.DeleteManyRequest{Items: items}}}
}

func touchMany(items ...*kvpb.TouchRequest) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_TouchMany{TouchMany: &kvpb.TouchManyRequest{Items: items}}}
}

func sweepReq(items ...*kvpb.SweepItem) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_Sweep{Sweep: &kvpb.SweepRequest{Items: items}}}
}

func txnReq(t *kvpb.TxnRequest) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_Txn{Txn: t}}
}

func getReq(key string) *kvpb.ReadRequest {
	return &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: []byte(key)}}}
}

func ttlReq(key string) *kvpb.ReadRequest {
	return &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Ttl{Ttl: &kvpb.TTLRequest{Key: []byte(key)}}}
}

func getManyReq(keys ...string) *kvpb.ReadRequest {
	bs := make([][]byte, len(keys))
	for i, k := range keys {
		bs[i] = []byte(k)
	}
	return &kvpb.ReadRequest{Op: &kvpb.ReadRequest_GetMany{GetMany: &kvpb.GetManyRequest{Keys: bs}}}
}

func scanReq(after *kvpb.Cursor, limit uint32, keysOnly bool) *kvpb.ReadRequest {
	return &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Scan{Scan: &kvpb.ScanRequest{After: after, Limit: limit, KeysOnly: keysOnly}}}
}

func u64(v uint64) *uint64 { return &v }
