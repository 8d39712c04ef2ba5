package raftwire

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/transport/raftwire/raftwirepb"
)

// Every batch the framer makes fits in maxBytes once encoded (with the
// largest seq), every message is completed exactly once, in order, and
// the receiver's decode gets the very messages back.
func TestFramerBoundsAndRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	for _, maxBytes := range []int{minFrameBytes, 16 << 10, DefaultMaxBatchBytes} {
		var msgs []Message
		for i := range 300 {
			size := rng.IntN(2 * maxBytes / 100)
			if i%37 == 0 {
				size = rng.IntN(3 * maxBytes) // some need pieces
			}
			msgs = append(msgs, msg(uint64(rng.IntN(1000)), uint64(i+1), size))
		}
		f := newFramer(msgs, maxBytes)
		var asm reassembler
		var got []Message
		completed := 0
		for {
			envs, n := f.nextBatch()
			if envs == nil {
				break
			}
			completed += n
			b := &raftwirepb.Batch{Seq: math.MaxUint64, WantAck: true, Messages: envs}
			wire, err := proto.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(wire) > maxBytes {
				t.Fatalf("max %d: batch of %d bytes", maxBytes, len(wire))
			}
			var back raftwirepb.Batch
			if err := proto.Unmarshal(wire, &back); err != nil {
				t.Fatal(err)
			}
			out, err := decode(&back, &asm)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != n {
				t.Fatalf("batch completes %d messages, decode returned %d", n, len(out))
			}
			got = append(got, out...)
		}
		if completed != len(msgs) || len(got) != len(msgs) || f.invalid != 0 {
			t.Fatalf("max %d: %d completed, %d decoded, %d invalid of %d", maxBytes, completed, len(got), f.invalid, len(msgs))
		}
		for i := range msgs {
			if got[i].RangeID != msgs[i].RangeID || !proto.Equal(got[i].Msg, msgs[i].Msg) {
				t.Fatalf("max %d: message %d differs", maxBytes, i)
			}
		}
	}
}

// The reassembler refuses pieces that mix ranges or grow past the limit.
func TestReassemblerRefusesBadPieces(t *testing.T) {
	t.Parallel()
	var r reassembler
	if _, ok, err := r.add(1, []byte("ab"), true); ok || err != nil {
		t.Fatalf("first piece: ok %v err %v", ok, err)
	}
	if _, _, err := r.add(2, []byte("cd"), false); err == nil {
		t.Fatal("piece of another range accepted")
	}
	big := reassembler{limit: 1000}
	piece := make([]byte, 300)
	var err error
	for i := 0; i < 3 && err == nil; i++ {
		_, _, err = big.add(1, piece, true)
	}
	if err != nil {
		t.Fatalf("900 bytes refused under a limit of 1000: %v", err)
	}
	if _, _, err = big.add(1, piece, false); !errors.Is(err, errTooLarge) {
		t.Fatalf("1200 bytes under a limit of 1000: %v, want errTooLarge", err)
	}
	var ok reassembler
	whole, done, err := ok.add(3, []byte("xyz"), false)
	if !done || err != nil || string(whole) != "xyz" {
		t.Fatalf("whole message: %q %v %v", whole, done, err)
	}
}
