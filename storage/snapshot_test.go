package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"

	"github.com/concord-kv/concord/storage/storagepb"
)

// TestIngestedRangeDeletionOnlyClearsOlderData checks the Pebble property
// SnapshotWriter relies on: a range deletion inside an ingested sstable
// removes existing keys (in memtables and in sstables) but not the keys
// ingested with it, in the same or in another sstable of one ingestion, and
// nothing outside its span.
func TestIngestedRangeDeletionOnlyClearsOlderData(t *testing.T) {
	t.Parallel()
	e, fs := openMem(t, Options{})
	b := e.NewBatch()
	for _, k := range []string{"a1", "a5", "a9", "c1"} {
		_ = b.Set([]byte(k), []byte("old"))
	}
	commit(t, b, true)
	if err := e.db.Flush(); err != nil { // these now live in an sstable
		t.Fatal(err)
	}
	b = e.NewBatch()
	for _, k := range []string{"a3", "b1", "b5", "b:"} {
		_ = b.Set([]byte(k), []byte("old")) // these in the memtable
	}
	commit(t, b, true)
	view := e.NewReadView()
	defer view.Close()

	write := func(name string, start, end string, kvs ...string) string {
		path := "/" + name
		f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), e.popts.MakeWriterOptions(0, e.db.TableFormat()))
		for _, k := range kvs {
			if err := w.Set([]byte(k), []byte("new")); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.DeleteRange([]byte(start), []byte(end)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	paths := []string{
		write("one.sst", "a", "b", "a5", "a7"),
		write("two.sst", "b", "b:", "b5"),
	}
	if err := e.db.Ingest(context.Background(), paths); err != nil {
		t.Fatal(err)
	}
	got := dump(t, e, nil, nil)
	want := map[string]string{"a5": "new", "a7": "new", "b5": "new", "b:": "old", "c1": "old"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after ingestion: %v, want %v", got, want)
	}
	// A view from before the ingestion still sees the old data.
	if v, ok := mustGet(t, view.Get, []byte("a1")); !ok || v != "old" {
		t.Errorf("old view lost a1: %q, %v", v, ok)
	}
}

// snapshotFixture is a sender holding range 10 with the given arc, plus
// data of other ranges on both sides.
type snapshotFixture struct {
	sender *Engine
	desc   *storagepb.RangeDescriptor
	inArc  map[string]string // engine key -> value of range 10
}

func newSnapshotFixture(t *testing.T, start, end uint64, positions []uint64, outside []uint64) *snapshotFixture {
	t.Helper()
	sender, _ := openMem(t, Options{})
	f := &snapshotFixture{sender: sender, desc: descriptor(10, start, end), inArc: map[string]string{}}
	b := sender.NewBatch()
	if err := WriteInitialState(b, 10, appliedState(t, f.desc, 50, 4, 1, 2), hardState(4, 1, 50),
		&storagepb.TruncatedState{Index: 40, Term: 3}); err != nil {
		t.Fatal(err)
	}
	for i, p := range positions {
		for _, key := range []string{"a", "b"} {
			k := UserKey(p, []byte(key))
			v := fmt.Sprintf("v%d-%s", i, key)
			f.inArc[string(k)] = v
			_ = b.Set(k, []byte(v))
		}
	}
	for _, p := range outside {
		_ = b.Set(UserKey(p, []byte("a")), []byte("sender-other-range"))
	}
	commit(t, b, true)
	l, _ := sender.RaftLog(10)
	b = sender.NewBatch()
	if err := l.Append(b, ents(41, 50, 4)); err != nil {
		t.Fatal(err)
	}
	commit(t, b, true)
	return f
}

func userData(t *testing.T, e *Engine) map[string]string {
	t.Helper()
	return dump(t, e, []byte{prefixUser}, []byte{prefixEnd})
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		start, end uint64
		positions  []uint64 // in the arc
		outside    []uint64
	}{
		{"plain", 100, 200, []uint64{101, 150, 200}, []uint64{0, 100, 201, math.MaxUint64}},
		{"wraps", math.MaxUint64 - 10, 10, []uint64{math.MaxUint64 - 9, math.MaxUint64, 0, 1, 10}, []uint64{11, 500, math.MaxUint64 - 10}},
		{"whole circle", 7, 7, []uint64{0, 7, 8, math.MaxUint64}, nil},
	}
	for _, tc := range cases {
		for _, small := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/small-sstables=%v", tc.name, small), func(t *testing.T) {
				t.Parallel()
				f := newSnapshotFixture(t, tc.start, tc.end, tc.positions, tc.outside)
				snap, err := f.sender.NewRangeSnapshot(10)
				if err != nil {
					t.Fatal(err)
				}
				defer snap.Close()
				// Writes after the snapshot are not part of it.
				b := f.sender.NewBatch()
				_ = b.Set(UserKey(tc.positions[0], []byte("late")), []byte("late"))
				as, _, _ := f.sender.AppliedState(10)
				as.Index = 60
				_ = b.SetAppliedState(10, as)
				commit(t, b, true)

				// The receiver has stale state of range 10 (an older applied
				// state, a log with a cache, keys the sender no longer has or
				// holds with other values) and data of other ranges.
				recv, _ := openMem(t, Options{})
				b = recv.NewBatch()
				if err := WriteInitialState(b, 10, appliedState(t, f.desc, 20, 2, 1), hardState(2, 1, 20),
					&storagepb.TruncatedState{Index: 14, Term: 1}); err != nil {
					t.Fatal(err)
				}
				if err := WriteInitialState(b, 11, appliedState(t, descriptor(11, 1, 2), 5, 1, 1), hardState(1, 1, 5), nil); err != nil {
					t.Fatal(err)
				}
				for i, p := range tc.positions {
					_ = b.Set(UserKey(p, []byte("a")), []byte("stale"))
					_ = b.Set(UserKey(p, []byte(fmt.Sprintf("gone%d", i))), []byte("stale"))
				}
				wantOutside := map[string]string{}
				for _, p := range tc.outside {
					k := UserKey(p, []byte("z"))
					wantOutside[string(k)] = "receiver-other-range"
					_ = b.Set(k, []byte("receiver-other-range"))
				}
				commit(t, b, true)
				rl, _ := recv.RaftLog(10)
				other, _ := recv.RaftLog(11)
				b = recv.NewBatch()
				_ = rl.Append(b, ents(15, 30, 2))
				_ = other.Append(b, ents(1, 5, 1))
				commit(t, b, true)

				state := snap.State()
				if state.GetIndex() != 50 {
					t.Fatalf("snapshot state index %d, want 50 (taken before the later write)", state.GetIndex())
				}
				w, err := recv.NewSnapshotWriter(10, state, hardState(4, 0, 50))
				if err != nil {
					t.Fatal(err)
				}
				defer w.Abort()
				if small {
					w.sstTarget = 1 // a new sstable for every key
				}
				var sentBytes int64
				if err := snap.Iterate(func(k, v []byte) error {
					sentBytes += int64(len(k) + len(v))
					return w.Add(k, v)
				}); err != nil {
					t.Fatal(err)
				}
				if keys, size := w.Stats(); keys != int64(len(f.inArc)) || size != sentBytes {
					t.Errorf("Stats = %d keys, %d bytes; sent %d keys, %d bytes", keys, size, len(f.inArc), sentBytes)
				}
				if err := w.Commit(); err != nil {
					t.Fatal(err)
				}
				if small && len(w.paths) <= len(f.inArc) {
					t.Errorf("%d sstables for %d keys with a tiny target size", len(w.paths), len(f.inArc))
				}

				// User data: the arc is exactly the sender's, the rest untouched.
				want := map[string]string{}
				for k, v := range f.inArc {
					want[k] = v
				}
				for k, v := range wantOutside {
					want[k] = v
				}
				if got := userData(t, recv); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("receiver user data:\n got %v\nwant %v", got, want)
				}
				// Range 10's state and log are the snapshot's.
				got, _, _ := recv.AppliedState(10)
				if got.GetIndex() != 50 || got.GetTerm() != 4 || got.GetDescriptor_().GetStart() != tc.start {
					t.Errorf("applied state = %v", got)
				}
				hs, _, _ := rl.InitialState()
				if hs.GetCommit() != 50 || hs.GetTerm() != 4 {
					t.Errorf("hard state = %v", hs)
				}
				span := LogSpan(10)
				if n := len(dump(t, recv, span.Start, span.End)); n != 0 {
					t.Errorf("old log keeps %d entries", n)
				}
				if fi, _ := rl.FirstIndex(); fi != 51 {
					t.Errorf("FirstIndex = %d, want 51", fi)
				}
				if li, _ := rl.LastIndex(); li != 50 {
					t.Errorf("LastIndex = %d, want 50", li)
				}
				if term, err := rl.Term(50); err != nil || term != 4 {
					t.Errorf("Term(50) = %d, %v", term, err)
				}
				if _, err := rl.Entries(30, 31, math.MaxUint64); err != raft.ErrCompacted {
					t.Errorf("old entries = %v, want ErrCompacted", err)
				}
				if _, cnt := recv.cache.stats(10); cnt != 0 {
					t.Errorf("%d stale cached entries", cnt)
				}
				// Range 11 is untouched.
				if es, err := other.Entries(1, 6, math.MaxUint64); err != nil || len(es) != 5 {
					t.Errorf("other range's log = %d entries, %v", len(es), err)
				}
				if s, ok, _ := recv.AppliedState(11); !ok || s.GetIndex() != 5 {
					t.Errorf("other range's applied state = %v", s)
				}
				// The staged files are gone.
				if names, _ := recv.fs.List(recv.fs.PathJoin(recv.dir, snapshotDir)); len(names) != 0 {
					t.Errorf("staged snapshot files left: %v", names)
				}
				// The log continues after the snapshot.
				b = recv.NewBatch()
				if err := rl.Append(b, ents(51, 52, 4)); err != nil {
					t.Fatal(err)
				}
				commit(t, b, true)
				if es, err := rl.Entries(51, 53, math.MaxUint64); err != nil || len(es) != 2 {
					t.Errorf("entries after the snapshot = %v, %v", es, err)
				}
			})
		}
	}
}

func TestSnapshotWriterRejectsBadInput(t *testing.T) {
	t.Parallel()
	e, fs := openMem(t, Options{})
	d := descriptor(3, 100, 200)
	s := appliedState(t, d, 10, 1, 1)
	if _, err := e.NewSnapshotWriter(4, s, hardState(1, 0, 10)); err == nil {
		t.Error("writer accepted a descriptor of another range")
	}
	if _, err := e.NewSnapshotWriter(3, s, nil); err == nil {
		t.Error("writer accepted a nil hard state")
	}
	if _, err := e.NewSnapshotWriter(3, &storagepb.AppliedState{Index: 1}, hardState(1, 0, 1)); err == nil {
		t.Error("writer accepted an applied state without descriptor")
	}
	for _, tc := range []struct {
		name string
		keys [][]byte
	}{
		{"below the arc", [][]byte{UserKey(100, []byte("a"))}},
		{"above the arc", [][]byte{UserKey(201, nil)}},
		{"not user data", [][]byte{NodeKey("x")}},
		{"repeated", [][]byte{UserKey(150, []byte("a")), UserKey(150, []byte("a"))}},
		{"decreasing", [][]byte{UserKey(150, []byte("b")), UserKey(150, []byte("a"))}},
	} {
		w, err := e.NewSnapshotWriter(3, s, hardState(1, 0, 10))
		if err != nil {
			t.Fatal(err)
		}
		var addErr error
		for _, k := range tc.keys {
			if addErr = w.Add(k, []byte("v")); addErr != nil {
				break
			}
		}
		if !errors.Is(addErr, ErrSnapshotKey) {
			t.Errorf("%s: Add = %v, want ErrSnapshotKey", tc.name, addErr)
		}
		if err := w.Add(UserKey(199, nil), nil); err == nil {
			t.Errorf("%s: writer accepted a key after failing", tc.name)
		}
		if err := w.Commit(); err == nil {
			t.Errorf("%s: failed writer committed", tc.name)
		}
		w.Abort()
	}
	// Abort removes staged files and changes nothing.
	w, err := e.NewSnapshotWriter(3, s, hardState(1, 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(UserKey(150, []byte("a")), []byte("v")); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	w.Abort()
	if err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if names, _ := fs.List(fs.PathJoin(e.dir, snapshotDir)); len(names) != 0 {
		t.Errorf("staged files left after Abort: %v", names)
	}
	if _, ok, _ := e.AppliedState(3); ok {
		t.Error("an aborted snapshot left an applied state")
	}
	if _, err := e.NewRangeSnapshot(3); !errors.Is(err, ErrUninitialized) {
		t.Errorf("NewRangeSnapshot of an unknown range = %v, want ErrUninitialized", err)
	}
}

// TestLargeSnapshotIsStreamed writes a 50k-key snapshot (about 50 MB) on
// the OS filesystem and checks the writer's heap stays far below the data
// size, and below the size of the keys alone: keys and values go to
// sstable files, not to memory. It is not
// parallel so that other tests' allocations do not blur the measurement.
func TestLargeSnapshotIsStreamed(t *testing.T) {
	// Long keys, so that keeping even just the keys (not the values) in
	// memory would show: 50k keys of 200 bytes are 10 MB.
	const keys, valueSize = 50_000, 800
	padding := bytes.Repeat([]byte{'p'}, 189)
	e, err := Open(t.TempDir(), Options{CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d := descriptor(1, 0, 0)
	w, err := e.NewSnapshotWriter(1, appliedState(t, d, 100, 2, 1), hardState(2, 0, 100))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()

	// Values are windows of a random buffer: cheap to produce and hard to
	// compress, so the sstables really hold about 50 MB.
	random := make([]byte, 1<<20)
	if _, err := rand.NewChaCha8([32]byte{1}).Read(random); err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	var key []byte
	for i := range keys {
		off := (i * 7919) % (len(random) - valueSize)
		key = UserKey(uint64(i)*1_000_003, fmt.Appendf(key[:0], "key-%06d-%s", i, padding))
		if err := w.Add(key, random[off:off+valueSize]); err != nil {
			t.Fatal(err)
		}
	}
	after := heap()
	_, written := w.Stats()
	if written < keys*valueSize {
		t.Fatalf("Stats reports %d bytes", written)
	}
	t.Logf("heap grew by %d bytes while writing %d bytes", int64(after)-int64(before), written)
	if grew := int64(after) - int64(before); grew > 3<<20 {
		t.Errorf("heap grew by %d bytes while writing %d bytes: the writer buffers the snapshot", grew, written)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}

	// Read it back through a RangeSnapshot: all keys, in order.
	snap, err := e.NewRangeSnapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	n := 0
	var prev []byte
	if err := snap.Iterate(func(k, v []byte) error {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return fmt.Errorf("keys out of order at %d", n)
		}
		if len(v) != valueSize {
			return fmt.Errorf("value of %q has %d bytes", k, len(v))
		}
		prev = append(prev[:0], k...)
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != keys {
		t.Errorf("read back %d keys, want %d", n, keys)
	}
}
