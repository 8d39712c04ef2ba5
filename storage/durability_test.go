package storage

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/storage/storagepb"
)

// crash simulates a machine crash of e's filesystem: the returned clone
// holds what was synced plus, with unsyncedPercent > 0, a random part of
// what was not. e is then closed (its later writes do not reach the clone)
// and the engine is reopened on the clone.
func crash(t *testing.T, e *Engine, fs *vfs.MemFS, unsyncedPercent int, seed uint64) *Engine {
	t.Helper()
	cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: unsyncedPercent}
	if unsyncedPercent > 0 {
		cfg.RNG = rand.New(rand.NewPCG(seed, seed))
	}
	clone := fs.CrashClone(cfg)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2, err := Open(e.dir, Options{FS: clone})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	t.Cleanup(func() { _ = e2.Close() })
	return e2
}

// walSize is the total size of e's write-ahead log files, synced or not.
func walSize(t *testing.T, fs vfs.FS, e *Engine) int64 {
	t.Helper()
	dir := fs.PathJoin(e.dir, pebbleDir)
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range names {
		if strings.HasSuffix(n, ".log") {
			st, err := fs.Stat(fs.PathJoin(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			total += st.Size()
		}
	}
	return total
}

// TestCrashKeepsSyncedWritesAndUnsyncedBatchesWhole checks the durability
// contract: a Commit(true) survives a crash; a Commit(false) may be lost,
// but only whole.
func TestCrashKeepsSyncedWritesAndUnsyncedBatchesWhole(t *testing.T) {
	t.Parallel()
	const unsyncedKeys = 200
	cases := []struct {
		percent int
		seed    uint64
	}{{0, 0}, {100, 0}}
	for seed := uint64(1); seed <= 4; seed++ {
		cases = append(cases, struct {
			percent int
			seed    uint64
		}{50, seed})
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("unsynced=%d%%/seed=%d", tc.percent, tc.seed), func(t *testing.T) {
			t.Parallel()
			fs := vfs.NewCrashableMem()
			e, err := Open("/engine", Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			l, _ := e.RaftLog(1)
			b := e.NewBatch()
			if err := l.Append(b, ents(1, 10, 2)); err != nil {
				t.Fatal(err)
			}
			if err := l.SetHardState(b, hardState(2, 1, 10)); err != nil {
				t.Fatal(err)
			}
			commit(t, b, true)

			// One unsynced batch: an applied state plus many user keys, big
			// enough to span several WAL blocks so a partial write is possible.
			b = e.NewBatch()
			if err := b.SetAppliedState(1, appliedState(t, descriptor(1, 0, 0), 10, 2, 1)); err != nil {
				t.Fatal(err)
			}
			for i := range unsyncedKeys {
				if err := b.Set(UserKey(uint64(i), []byte("k")), make([]byte, 500)); err != nil {
					t.Fatal(err)
				}
			}
			walBefore := walSize(t, fs, e)
			size := int64(len(b.pb.Repr()))
			commit(t, b, false)
			// Pebble writes unsynced WAL records from a background flusher;
			// wait until this batch reached the file, so that the crash, not
			// timing, decides what survives.
			await.Until(t, 10*time.Second, "unsynced batch written to the WAL", func() error {
				if got := walSize(t, fs, e); got < walBefore+size {
					return fmt.Errorf("WAL has %d bytes, want at least %d", got, walBefore+size)
				}
				return nil
			})

			e = crash(t, e, fs, tc.percent, tc.seed)
			l, err = e.RaftLog(1)
			if err != nil {
				t.Fatal(err)
			}
			if last, _ := l.LastIndex(); last != 10 {
				t.Fatalf("synced log lost: last index %d", last)
			}
			got, err := l.Entries(1, 11, 1<<30)
			if err != nil || len(got) != 10 || string(got[9].GetData()) != "e10-t2" {
				t.Fatalf("synced entries after crash = %d entries, %v", len(got), err)
			}
			hs, _, err := l.InitialState()
			if err != nil || hs.GetCommit() != 10 || hs.GetTerm() != 2 {
				t.Fatalf("synced hard state after crash = %v, %v", hs, err)
			}
			_, applied, err := e.AppliedState(1)
			if err != nil {
				t.Fatal(err)
			}
			user := len(dump(t, e, []byte{prefixUser}, []byte{prefixEnd}))
			switch {
			case applied && user == unsyncedKeys:
			case !applied && user == 0:
			default:
				t.Fatalf("unsynced batch partially survived: applied state %v, %d of %d keys", applied, user, unsyncedKeys)
			}
			// With nothing unsynced kept it must be gone, with everything kept
			// it must be whole: otherwise the test would prove nothing.
			if tc.percent == 0 && applied {
				t.Error("unsynced batch survived a crash that kept only synced data")
			}
			if tc.percent == 100 && !applied {
				t.Error("unsynced batch lost although the crash kept all written data")
			}
		})
	}
}

// TestSnapshotIngestionIsDurable checks that a committed snapshot survives
// a crash that keeps only synced data.
func TestSnapshotIngestionIsDurable(t *testing.T) {
	t.Parallel()
	fs := vfs.NewCrashableMem()
	e, err := Open("/engine", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	d := descriptor(5, 10, 20)
	w, err := e.NewSnapshotWriter(5, appliedState(t, d, 30, 3, 1), hardState(3, 0, 30))
	if err != nil {
		t.Fatal(err)
	}
	for pos := uint64(11); pos <= 20; pos++ {
		if err := w.Add(UserKey(pos, []byte("k")), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	e = crash(t, e, fs, 0, 0)
	s, ok, err := e.AppliedState(5)
	if err != nil || !ok || s.GetIndex() != 30 {
		t.Fatalf("applied state after crash = %v, %v, %v", s, ok, err)
	}
	if n := len(dump(t, e, []byte{prefixUser}, []byte{prefixEnd})); n != 10 {
		t.Errorf("%d snapshot keys after crash, want 10", n)
	}
	l, _ := e.RaftLog(5)
	if f, _ := l.FirstIndex(); f != 31 {
		t.Errorf("first index after crash = %d, want 31", f)
	}
	var ts storagepb.TruncatedState
	if ok, err := getProto(e.db, TruncatedStateKey(5), &ts); !ok || err != nil || ts.GetIndex() != 30 || ts.GetTerm() != 3 {
		t.Errorf("truncated state after crash = %v, %v, %v", &ts, ok, err)
	}
}
