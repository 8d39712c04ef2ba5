package storage

import (
	"fmt"
	"io"
	"log"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/storage/storagepb"
)

// openMem opens an engine on a fresh in-memory filesystem.
func openMem(t testing.TB, opts Options) (*Engine, vfs.FS) {
	t.Helper()
	if opts.FS == nil {
		opts.FS = vfs.NewMem()
	}
	e, err := Open("/engine", opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, opts.FS
}

// reopen closes e cleanly and opens the same directory again.
func reopen(t testing.TB, e *Engine, opts Options) *Engine {
	t.Helper()
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	opts.FS = e.fs
	e2, err := Open(e.dir, opts)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = e2.Close() })
	return e2
}

func ent(index, term uint64, data string) *raftpb.Entry {
	return &raftpb.Entry{Index: proto.Uint64(index), Term: proto.Uint64(term), Data: []byte(data)}
}

// ents returns entries lo..hi inclusive with the given term and a payload
// naming index and term.
func ents(lo, hi, term uint64) []*raftpb.Entry {
	var out []*raftpb.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, ent(i, term, fmt.Sprintf("e%d-t%d", i, term)))
	}
	return out
}

func hardState(term, vote, commit uint64) *raftpb.HardState {
	return &raftpb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(vote), Commit: proto.Uint64(commit)}
}

func commit(t testing.TB, b *Batch, sync bool) {
	t.Helper()
	if err := b.Commit(sync); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func mustGet(t testing.TB, get func([]byte) ([]byte, bool, error), k []byte) (string, bool) {
	t.Helper()
	v, ok, err := get(k)
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	return string(v), ok
}

// dump returns every key/value of [lo, hi) of e as a map.
func dump(t testing.TB, e *Engine, lo, hi []byte) map[string]string {
	t.Helper()
	out := make(map[string]string)
	if err := e.Iterate(lo, hi, func(k, v []byte) bool {
		out[string(k)] = string(v)
		return true
	}); err != nil {
		t.Fatalf("Iterate: %v", err)
	}
	return out
}

func descriptor(rangeID, start, end uint64) *storagepb.RangeDescriptor {
	return &storagepb.RangeDescriptor{
		RangeId: rangeID, Start: start, End: end, Generation: 1, NextReplicaId: 2,
		Replicas: []*storagepb.ReplicaDescriptor{{Node: "n1", ReplicaId: 1, Type: storagepb.ReplicaType_VOTER}},
	}
}

func appliedState(t testing.TB, d *storagepb.RangeDescriptor, index, term uint64, voters ...uint64) *storagepb.AppliedState {
	t.Helper()
	cs, err := EncodeConfState(&raftpb.ConfState{Voters: voters})
	if err != nil {
		t.Fatal(err)
	}
	return &storagepb.AppliedState{Index: index, Term: term, ConfState: cs, Stamp: 1, Descriptor_: d}
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
