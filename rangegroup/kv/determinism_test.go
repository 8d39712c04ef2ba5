package kv

import (
	"bytes"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
)

// Two replicas that apply the same log, one from the proposer's request
// objects and one from their encoded form, hold byte-identical stores and
// produce byte-identical responses after every command.
func TestDeterminism(t *testing.T) {
	t.Parallel()
	for _, seed := range testSeeds() {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			t.Logf("seed %d (replay with -kv.seed=%d)", seed, seed)
			g := newGen(seed)
			a, b := newMachine(), newMachine()
			sa, sb := newMemStore(), newMemStore()
			marshal := proto.MarshalOptions{Deterministic: true}
			now := int64(5_000)
			for rev := uint64(1); rev <= 2000; rev++ {
				now += g.rng.Int64N(4)
				expired, err := a.Expired(sa, whole, now, 8)
				if err != nil {
					t.Fatal(err)
				}
				req := g.write(rev, expired)
				ra, err := a.Apply(sa, whole, rev, now, req)
				if err != nil {
					t.Fatalf("seed %d rev %d: %v", seed, rev, err)
				}
				rb, err := b.Apply(sb, whole, rev, now, roundTrip(t, req))
				if err != nil {
					t.Fatalf("seed %d rev %d: %v", seed, rev, err)
				}
				ba, _ := marshal.Marshal(ra)
				bb, _ := marshal.Marshal(rb)
				if !bytes.Equal(ba, bb) {
					t.Fatalf("seed %d rev %d: responses differ:\n%v\n%v", seed, rev, ra, rb)
				}
				if !bytes.Equal(sa.dump(), sb.dump()) {
					t.Fatalf("seed %d rev %d: stores differ after %v", seed, rev, req)
				}
			}
			if sa.len() == 0 {
				t.Fatal("the run left no keys; the generator is not exercising the store")
			}
		})
	}
}

// Every write call a command makes reaches the Store in the same order on
// every replica, not just the same final state: a Store that logs calls
// (as a write batch does) must see identical logs.
func TestDeterministicWriteOrder(t *testing.T) {
	t.Parallel()
	var logs [2][]string
	for i := range logs {
		s := &loggingStore{memStore: newMemStore(), log: &logs[i]}
		m := newMachine()
		g := newGen(42)
		for rev := uint64(1); rev <= 500; rev++ {
			req := g.write(rev, nil)
			if _, err := m.Apply(s, whole, rev, int64(rev), req); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fmt.Sprint(logs[0]) != fmt.Sprint(logs[1]) || len(logs[0]) == 0 {
		t.Fatalf("write logs differ or are empty (%d vs %d calls)", len(logs[0]), len(logs[1]))
	}
}

type loggingStore struct {
	*memStore
	log *[]string
}

func (s *loggingStore) Set(k, v []byte) error {
	*s.log = append(*s.log, fmt.Sprintf("set %x %x", k, v))
	return s.memStore.Set(k, v)
}

func (s *loggingStore) Delete(k []byte) error {
	*s.log = append(*s.log, fmt.Sprintf("del %x", k))
	return s.memStore.Delete(k)
}

var _ Store = (*loggingStore)(nil)
