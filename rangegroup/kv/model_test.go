package kv

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage"
)

var seedFlag = flag.Int64("kv.seed", 0, "run the randomized kv tests with only this seed")

// testSeeds are fixed seeds plus one new each run; a failure names its
// seed, and -kv.seed replays it.
func testSeeds() []int64 {
	if *seedFlag != 0 {
		return []int64{*seedFlag}
	}
	return []int64{1, 2, 3, time.Now().UnixNano()}
}

// mrec is the model's record of a key.
type mrec struct {
	val              string
	create, mod, ver uint64
	exp              int64
}

func (r mrec) expired(now int64) bool { return r.exp != 0 && r.exp <= now }

func (r mrec) meta() *kvpb.Value {
	return &kvpb.Value{CreateRevision: r.create, ModRevision: r.mod, Version: r.ver, ExpiresAt: r.exp}
}

func (r mrec) full() *kvpb.Value {
	v := r.meta()
	v.Value = []byte(r.val)
	return v
}

// model is the simplest possible statement of the state machine's
// semantics: a map, rewritten from scratch rather than sharing any code
// with Machine, against which Machine is checked.
type model struct {
	recs map[string]mrec // expired records stay until swept, as in the engine
	rev  uint64
	now  int64
}

func (md *model) live(k string) (mrec, bool) {
	r, ok := md.recs[k]
	if !ok || r.expired(md.now) {
		return mrec{}, false
	}
	return r, true
}

func res(code kvpb.ErrorCode, v *kvpb.Value) *kvpb.Result { return &kvpb.Result{Code: code, Value: v} }

func (md *model) condHolds(c *kvpb.Condition, k string) bool {
	if c == nil {
		return true
	}
	r, ok := md.live(k)
	if c.MustNotExist {
		return !ok
	}
	if c.MustExist || c.Value != nil || c.Version != nil || c.ModRevision != nil {
		if !ok {
			return false
		}
	}
	return (c.Value == nil || string(c.Value) == r.val) &&
		(c.Version == nil || *c.Version == r.ver) &&
		(c.ModRevision == nil || *c.ModRevision == r.mod)
}

// put returns the item result and whether it aborts the command.
func (md *model) put(p *kvpb.PutRequest) (*kvpb.Result, bool) {
	k := string(p.Key)
	if !md.condHolds(p.Condition, k) {
		return res(kvpb.ErrorCode_CONDITION_FAILED, nil), true
	}
	old, ok := md.live(k)
	r := mrec{val: string(p.Value), create: md.rev, mod: md.rev, ver: 1}
	if ok {
		r.create, r.ver = old.create, old.ver+1
	}
	switch {
	case p.Ttl > 0:
		r.exp = md.now + p.Ttl
	case p.KeepTtl && ok:
		r.exp = old.exp
	}
	md.recs[k] = r
	return res(kvpb.ErrorCode_OK, r.meta()), false
}

func (md *model) del(d *kvpb.DeleteRequest) (*kvpb.Result, bool) {
	k := string(d.Key)
	if !md.condHolds(d.Condition, k) {
		return res(kvpb.ErrorCode_CONDITION_FAILED, nil), true
	}
	old, ok := md.live(k)
	if !ok {
		return res(kvpb.ErrorCode_NOT_FOUND, nil), false
	}
	delete(md.recs, k)
	return res(kvpb.ErrorCode_OK, old.meta()), false
}

func (md *model) touch(t *kvpb.TouchRequest) *kvpb.Result {
	k := string(t.Key)
	old, ok := md.live(k)
	if !ok {
		return res(kvpb.ErrorCode_NOT_FOUND, nil)
	}
	old.mod, old.ver, old.exp = md.rev, old.ver+1, 0
	if t.Ttl > 0 {
		old.exp = md.now + t.Ttl
	}
	md.recs[k] = old
	return res(kvpb.ErrorCode_OK, old.meta())
}

func (md *model) get(k []byte) *kvpb.Result {
	r, ok := md.live(string(k))
	if !ok {
		return res(kvpb.ErrorCode_NOT_FOUND, nil)
	}
	return res(kvpb.ErrorCode_OK, r.full())
}

func (md *model) compare(c *kvpb.Compare) bool {
	r, ok := md.live(string(c.Key))
	var d int
	switch c.Target {
	case kvpb.Compare_EXISTS:
		return ok
	case kvpb.Compare_NOT_EXISTS:
		return !ok
	case kvpb.Compare_VALUE:
		if !ok {
			return false
		}
		d = bytes.Compare([]byte(r.val), c.Value)
	case kvpb.Compare_VERSION:
		d = cmpU(r.ver, c.Number)
	case kvpb.Compare_CREATE_REVISION:
		d = cmpU(r.create, c.Number)
	case kvpb.Compare_MOD_REVISION:
		d = cmpU(r.mod, c.Number)
	}
	return map[kvpb.Compare_Op]bool{
		kvpb.Compare_EQUAL: d == 0, kvpb.Compare_NOT_EQUAL: d != 0,
		kvpb.Compare_LESS: d < 0, kvpb.Compare_GREATER: d > 0,
	}[c.Op]
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// invalidCode is the rejection the generator's invalid inputs (empty keys,
// negative TTLs) must get, or OK for a valid command.
func invalidCode(req *kvpb.Request) kvpb.ErrorCode {
	checkPut := func(p *kvpb.PutRequest) kvpb.ErrorCode {
		if len(p.Key) == 0 {
			return kvpb.ErrorCode_INVALID_KEY
		}
		if p.Ttl < 0 {
			return kvpb.ErrorCode_INVALID_ARGUMENT
		}
		return kvpb.ErrorCode_OK
	}
	checkKey := func(k []byte) kvpb.ErrorCode {
		if len(k) == 0 {
			return kvpb.ErrorCode_INVALID_KEY
		}
		return kvpb.ErrorCode_OK
	}
	checkTouch := func(t *kvpb.TouchRequest) kvpb.ErrorCode {
		if c := checkKey(t.Key); c != kvpb.ErrorCode_OK {
			return c
		}
		if t.Ttl < 0 {
			return kvpb.ErrorCode_INVALID_ARGUMENT
		}
		return kvpb.ErrorCode_OK
	}
	var codes []kvpb.ErrorCode
	switch op := req.Op.(type) {
	case *kvpb.Request_Put:
		codes = append(codes, checkPut(op.Put))
	case *kvpb.Request_Delete:
		codes = append(codes, checkKey(op.Delete.Key))
	case *kvpb.Request_Touch:
		codes = append(codes, checkTouch(op.Touch))
	case *kvpb.Request_PutMany:
		for _, it := range op.PutMany.Items {
			codes = append(codes, checkPut(it))
		}
	case *kvpb.Request_DeleteMany:
		for _, it := range op.DeleteMany.Items {
			codes = append(codes, checkKey(it.Key))
		}
	case *kvpb.Request_TouchMany:
		for _, it := range op.TouchMany.Items {
			codes = append(codes, checkTouch(it))
		}
	case *kvpb.Request_Txn:
		for _, c := range op.Txn.Compares {
			codes = append(codes, checkKey(c.Key))
		}
		for _, o := range append(slices.Clone(op.Txn.ThenOps), op.Txn.ElseOps...) {
			switch x := o.Op.(type) {
			case *kvpb.TxnOp_Put:
				codes = append(codes, checkPut(x.Put))
			case *kvpb.TxnOp_Delete:
				codes = append(codes, checkKey(x.Delete.Key))
			case *kvpb.TxnOp_Get:
				codes = append(codes, checkKey(x.Get.Key))
			}
		}
	}
	for _, c := range codes {
		if c != kvpb.ErrorCode_OK {
			return c
		}
	}
	return kvpb.ErrorCode_OK
}

// apply returns the response Machine must give to req, updating the model.
// Messages are not modelled; compare with them cleared.
func (md *model) apply(req *kvpb.Request) *kvpb.Response {
	md.rev++
	if c := invalidCode(req); c != kvpb.ErrorCode_OK {
		return &kvpb.Response{Code: c, Revision: md.rev}
	}
	saved := maps.Clone(md.recs)
	resp := &kvpb.Response{Revision: md.rev}
	abort := func(code kvpb.ErrorCode) {
		if resp.Code == kvpb.ErrorCode_OK {
			resp.Code = code
		}
	}
	switch op := req.Op.(type) {
	case *kvpb.Request_Put:
		r, _ := md.put(op.Put)
		resp.Code, resp.Results = r.Code, []*kvpb.Result{r}
	case *kvpb.Request_Delete:
		r, _ := md.del(op.Delete)
		resp.Code, resp.Results = r.Code, []*kvpb.Result{r}
	case *kvpb.Request_Touch:
		r := md.touch(op.Touch)
		resp.Code, resp.Results = r.Code, []*kvpb.Result{r}
	case *kvpb.Request_PutMany:
		for _, it := range op.PutMany.Items {
			r, ab := md.put(it)
			if ab {
				abort(r.Code)
			}
			resp.Results = append(resp.Results, r)
		}
	case *kvpb.Request_DeleteMany:
		for _, it := range op.DeleteMany.Items {
			r, ab := md.del(it)
			if ab {
				abort(r.Code)
			}
			resp.Results = append(resp.Results, r)
		}
	case *kvpb.Request_TouchMany:
		for _, it := range op.TouchMany.Items {
			resp.Results = append(resp.Results, md.touch(it))
		}
	case *kvpb.Request_Txn:
		resp.Succeeded = true
		for _, c := range op.Txn.Compares {
			resp.Succeeded = resp.Succeeded && md.compare(c)
		}
		branch := op.Txn.ThenOps
		if !resp.Succeeded {
			branch = op.Txn.ElseOps
		}
		for _, o := range branch {
			var r *kvpb.Result
			switch x := o.Op.(type) {
			case *kvpb.TxnOp_Put:
				r, _ = md.put(x.Put)
			case *kvpb.TxnOp_Delete:
				r, _ = md.del(x.Delete)
			case *kvpb.TxnOp_Get:
				r = md.get(x.Get.Key)
			}
			resp.Results = append(resp.Results, r)
		}
	case *kvpb.Request_Sweep:
		for _, it := range op.Sweep.Items {
			k := string(it.Key)
			r, ok := md.recs[k]
			switch {
			case !ok:
				resp.Results = append(resp.Results, res(kvpb.ErrorCode_NOT_FOUND, nil))
			case !r.expired(md.now) || r.mod != it.ModRevision:
				resp.Results = append(resp.Results, res(kvpb.ErrorCode_CONDITION_FAILED, nil))
			default:
				delete(md.recs, k)
				resp.Results = append(resp.Results, res(kvpb.ErrorCode_OK, r.meta()))
			}
		}
	}
	if resp.Code != kvpb.ErrorCode_OK && resp.Code != kvpb.ErrorCode_NOT_FOUND {
		md.recs = saved
	}
	return resp
}

// sorted lists the model's keys in engine order.
func (md *model) sorted(pos func([]byte) uint64) []string {
	keys := slices.Collect(maps.Keys(md.recs))
	slices.SortFunc(keys, func(a, b string) int {
		return bytes.Compare(storage.UserKey(pos([]byte(a)), []byte(a)), storage.UserKey(pos([]byte(b)), []byte(b)))
	})
	return keys
}

func (md *model) read(req *kvpb.ReadRequest, pos func([]byte) uint64) *kvpb.ReadResponse {
	switch op := req.Op.(type) {
	case *kvpb.ReadRequest_Get:
		if len(op.Get.Key) == 0 {
			return &kvpb.ReadResponse{Code: kvpb.ErrorCode_INVALID_KEY}
		}
		r := md.get(op.Get.Key)
		return &kvpb.ReadResponse{Code: r.Code, Results: []*kvpb.Result{r}}
	case *kvpb.ReadRequest_Ttl:
		if len(op.Ttl.Key) == 0 {
			return &kvpb.ReadResponse{Code: kvpb.ErrorCode_INVALID_KEY}
		}
		r, ok := md.live(string(op.Ttl.Key))
		if !ok {
			return &kvpb.ReadResponse{Code: kvpb.ErrorCode_NOT_FOUND, Results: []*kvpb.Result{res(kvpb.ErrorCode_NOT_FOUND, nil)}}
		}
		out := res(kvpb.ErrorCode_OK, r.meta())
		if r.exp != 0 {
			out.Ttl = r.exp - md.now
		}
		return &kvpb.ReadResponse{Results: []*kvpb.Result{out}}
	case *kvpb.ReadRequest_GetMany:
		resp := &kvpb.ReadResponse{}
		for _, k := range op.GetMany.Keys {
			if len(k) == 0 {
				return &kvpb.ReadResponse{Code: kvpb.ErrorCode_INVALID_KEY}
			}
			resp.Results = append(resp.Results, md.get(k))
		}
		return resp
	case *kvpb.ReadRequest_Scan:
		limit := int(op.Scan.Limit)
		if limit == 0 {
			limit = DefaultMaxBatchItems
		}
		resp := &kvpb.ReadResponse{}
		for _, k := range md.sorted(pos) {
			r, ok := md.live(k)
			if !ok {
				continue
			}
			if len(resp.Results) == limit {
				last := resp.Results[len(resp.Results)-1].Key
				resp.Next = &kvpb.Cursor{Position: pos(last), Key: last}
				break
			}
			v := r.full()
			if op.Scan.KeysOnly {
				v.Value = nil
			}
			resp.Results = append(resp.Results, &kvpb.Result{Key: []byte(k), Value: v})
		}
		return resp
	}
	panic("unknown read")
}

// stripMessages clears every message, which the model does not predict.
func stripMessages[M interface {
	proto.Message
	*kvpb.Response | *kvpb.ReadResponse
}](m M) M {
	m = proto.Clone(m).(M)
	switch x := any(m).(type) {
	case *kvpb.Response:
		x.Message = ""
		for _, r := range x.Results {
			r.Message = ""
		}
	case *kvpb.ReadResponse:
		x.Message = ""
		for _, r := range x.Results {
			r.Message = ""
		}
	}
	return m
}

// checkStore compares every record in the engine with the model's.
func checkStore(t *testing.T, s *memStore, md *model, pos func([]byte) uint64) {
	t.Helper()
	keys := md.sorted(pos)
	if len(keys) != s.len() {
		t.Fatalf("rev %d: store has %d records, model %d", md.rev, s.len(), len(keys))
	}
	for i, k := range keys {
		ek := s.keys[i]
		if ek != string(storage.UserKey(pos([]byte(k)), []byte(k))) {
			t.Fatalf("rev %d: record %d is %x, model has %q", md.rev, i, ek, k)
		}
		rec, err := DecodeRecord(s.vals[ek])
		if err != nil {
			t.Fatalf("rev %d: %q: %v", md.rev, k, err)
		}
		want := md.recs[k]
		got := mrec{val: string(rec.Value), create: rec.CreateRevision, mod: rec.ModRevision, ver: rec.Version, exp: rec.ExpiresAt}
		if got != want {
			t.Fatalf("rev %d: %q is %+v, model %+v", md.rev, k, got, want)
		}
	}
}

func TestMachineAgainstModel(t *testing.T) {
	t.Parallel()
	for _, seed := range testSeeds() {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, 3000)
		})
	}
}

func runModel(t *testing.T, seed int64, steps int) {
	t.Logf("seed %d (replay with -kv.seed=%d)", seed, seed)
	g := newGen(seed)
	m := newMachine()
	s := newMemStore()
	md := &model{recs: map[string]mrec{}, now: 1_000}
	var stale []*kvpb.SweepItem
	for step := range steps {
		md.now += g.rng.Int64N(4)
		if g.chance(30) {
			req := g.read()
			got, err := m.Read(s, whole, md.now, req)
			if err != nil {
				t.Fatalf("seed %d step %d: read: %v", seed, step, err)
			}
			if want := md.read(req, m.Position); !proto.Equal(stripMessages(got), want) {
				t.Fatalf("seed %d step %d: read %v\n got %v\nwant %v", seed, step, req, got, want)
			}
			continue
		}
		expired, err := m.Expired(s, whole, md.now, 1+g.rng.IntN(4))
		if err != nil {
			t.Fatalf("seed %d step %d: expired: %v", seed, step, err)
		}
		for _, it := range expired {
			if r, ok := md.recs[string(it.Key)]; !ok || !r.expired(md.now) || r.mod != it.ModRevision {
				t.Fatalf("seed %d step %d: Expired listed %q@%d, model has %+v", seed, step, it.Key, it.ModRevision, r)
			}
		}
		sweepable := expired
		if g.chance(30) {
			sweepable = stale
		}
		stale = expired
		req := g.write(md.rev+1, sweepable)
		if g.chance(50) {
			req = roundTrip(t, req)
		}
		got, err := m.Apply(s, whole, md.rev+1, md.now, req)
		if err != nil {
			t.Fatalf("seed %d step %d: apply: %v", seed, step, err)
		}
		if want := md.apply(req); !proto.Equal(stripMessages(got), want) {
			t.Fatalf("seed %d step %d: apply %v\n got %v\nwant %v", seed, step, req, got, want)
		}
		if step%50 == 0 {
			checkStore(t, s, md, m.Position)
		}
	}
	checkStore(t, s, md, m.Position)
}
