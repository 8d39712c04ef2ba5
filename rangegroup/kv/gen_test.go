package kv

import (
	"fmt"
	"math/rand/v2"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// gen makes random commands over a small key and value pool, so that keys
// collide, conditions sometimes hold and TTLs expire within a test run.
type gen struct {
	rng  *rand.Rand
	keys []string
}

func newGen(seed int64) *gen {
	keys := []string{"{t}:a", "{t}:b", "{t}:c", "#7:x", "#7:y", "#7:z"}
	for i := range 14 {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	return &gen{rng: rand.New(rand.NewPCG(uint64(seed), 0x6b76)), keys: keys}
}

var genValues = []string{"", "a", "b", "c", "dd"}

func (g *gen) chance(pct int) bool { return g.rng.IntN(100) < pct }

func (g *gen) key() []byte {
	if g.chance(1) {
		return nil // invalid: empty key
	}
	return []byte(g.keys[g.rng.IntN(len(g.keys))])
}

func (g *gen) value() []byte { return []byte(genValues[g.rng.IntN(len(genValues))]) }

func (g *gen) ttl() int64 {
	switch {
	case g.chance(1):
		return -1 // invalid
	case g.chance(60):
		return 0
	}
	return 1 + g.rng.Int64N(20)
}

// cond returns a random, non-contradictory condition, or nil.
func (g *gen) cond(rev uint64) *kvpb.Condition {
	if g.chance(60) {
		return nil
	}
	if g.chance(25) {
		return &kvpb.Condition{MustNotExist: true}
	}
	c := &kvpb.Condition{MustExist: g.chance(30)}
	if g.chance(40) {
		c.Value = g.value()
	}
	if g.chance(30) {
		c.Version = u64(1 + g.rng.Uint64N(3))
	}
	if g.chance(20) && rev > 1 {
		c.ModRevision = u64(rev - g.rng.Uint64N(min(rev-1, 15)))
	}
	return c
}

func (g *gen) put(rev uint64, conditional bool) *kvpb.PutRequest {
	p := &kvpb.PutRequest{Key: g.key(), Value: g.value(), Ttl: g.ttl()}
	if p.Ttl == 0 && g.chance(20) {
		p.KeepTtl = true
	}
	if conditional {
		p.Condition = g.cond(rev)
	}
	return p
}

func (g *gen) del(rev uint64, conditional bool) *kvpb.DeleteRequest {
	d := &kvpb.DeleteRequest{Key: g.key()}
	if conditional {
		d.Condition = g.cond(rev)
	}
	return d
}

func (g *gen) touch() *kvpb.TouchRequest {
	return &kvpb.TouchRequest{Key: g.key(), Ttl: g.ttl()}
}

func (g *gen) compare(rev uint64) *kvpb.Compare {
	c := &kvpb.Compare{
		Key:    g.key(),
		Target: kvpb.Compare_Target(g.rng.IntN(6)),
		Op:     kvpb.Compare_Op(g.rng.IntN(4)),
	}
	switch c.Target {
	case kvpb.Compare_VALUE:
		c.Value = g.value()
	case kvpb.Compare_VERSION:
		c.Number = g.rng.Uint64N(4)
	case kvpb.Compare_CREATE_REVISION, kvpb.Compare_MOD_REVISION:
		c.Number = rev - g.rng.Uint64N(min(rev, 15))
	default:
		c.Op = kvpb.Compare_EQUAL
	}
	return c
}

func (g *gen) txnOps(rev uint64) []*kvpb.TxnOp {
	ops := make([]*kvpb.TxnOp, g.rng.IntN(4))
	for i := range ops {
		switch g.rng.IntN(3) {
		case 0:
			ops[i] = &kvpb.TxnOp{Op: &kvpb.TxnOp_Put{Put: g.put(rev, false)}}
		case 1:
			ops[i] = &kvpb.TxnOp{Op: &kvpb.TxnOp_Delete{Delete: g.del(rev, false)}}
		default:
			ops[i] = &kvpb.TxnOp{Op: &kvpb.TxnOp_Get{Get: &kvpb.GetRequest{Key: g.key()}}}
		}
	}
	return ops
}

// write returns a random write command for revision rev. sweepable lists
// keys the caller found expired, for sweep commands.
func (g *gen) write(rev uint64, sweepable []*kvpb.SweepItem) *kvpb.Request {
	n := 1 + g.rng.IntN(5)
	if g.chance(5) {
		n = 1 + g.rng.IntN(30) // past the view's linear-search threshold
	}
	switch g.rng.IntN(10) {
	case 0, 1:
		return &kvpb.Request{Op: &kvpb.Request_Put{Put: g.put(rev, true)}}
	case 2:
		return &kvpb.Request{Op: &kvpb.Request_Delete{Delete: g.del(rev, true)}}
	case 3:
		return &kvpb.Request{Op: &kvpb.Request_Touch{Touch: g.touch()}}
	case 4:
		items := make([]*kvpb.PutRequest, n)
		for i := range items {
			items[i] = g.put(rev, g.chance(30))
		}
		return putMany(items...)
	case 5:
		items := make([]*kvpb.DeleteRequest, n)
		for i := range items {
			items[i] = g.del(rev, g.chance(30))
		}
		return deleteMany(items...)
	case 6:
		items := make([]*kvpb.TouchRequest, n)
		for i := range items {
			items[i] = g.touch()
		}
		return touchMany(items...)
	case 7, 8:
		t := &kvpb.TxnRequest{ThenOps: g.txnOps(rev), ElseOps: g.txnOps(rev)}
		for range g.rng.IntN(3) {
			t.Compares = append(t.Compares, g.compare(rev))
		}
		if len(t.Compares)+len(t.ThenOps)+len(t.ElseOps) == 0 {
			t.Compares = append(t.Compares, g.compare(rev))
		}
		return txnReq(t)
	default:
		if len(sweepable) == 0 {
			return &kvpb.Request{Op: &kvpb.Request_Put{Put: g.put(rev, false)}}
		}
		items := make([]*kvpb.SweepItem, 0, len(sweepable))
		for _, it := range sweepable {
			it = &kvpb.SweepItem{Key: it.GetKey(), ModRevision: it.GetModRevision()}
			if g.chance(10) {
				it.ModRevision++ // a stale listing
			}
			items = append(items, it)
		}
		return sweepReq(items...)
	}
}

// read returns a random read.
func (g *gen) read() *kvpb.ReadRequest {
	switch g.rng.IntN(4) {
	case 0:
		return &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: g.key()}}}
	case 1:
		return &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Ttl{Ttl: &kvpb.TTLRequest{Key: g.key()}}}
	case 2:
		keys := make([][]byte, 1+g.rng.IntN(4))
		for i := range keys {
			keys[i] = g.key()
		}
		return &kvpb.ReadRequest{Op: &kvpb.ReadRequest_GetMany{GetMany: &kvpb.GetManyRequest{Keys: keys}}}
	}
	return scanReq(nil, uint32(g.rng.IntN(8)), g.chance(50))
}
