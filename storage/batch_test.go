package storage

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// CommitNoSyncWait makes a batch visible at once and durable by SyncWait;
// several batches can wait, and each one's SyncWait covers it.
func TestCommitNoSyncWaitIsDurableAfterSyncWait(t *testing.T) {
	t.Parallel()
	fs := vfs.NewCrashableMem()
	e, err := Open("/engine", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	var pending []*Batch
	hooks := 0
	for i := range 3 {
		b := e.NewWriteBatch()
		if err := b.Set([]byte{'k', byte(i)}, []byte{'v', byte(i)}); err != nil {
			t.Fatal(err)
		}
		b.OnCommit(func() { hooks++ })
		if err := b.CommitNoSyncWait(); err != nil {
			t.Fatal(err)
		}
		b.Close() // a no-op: SyncWait still owes the release
		if v, ok, err := e.Get([]byte{'k', byte(i)}); err != nil || !ok || !bytes.Equal(v, []byte{'v', byte(i)}) {
			t.Fatalf("k%d after CommitNoSyncWait: %q %v %v", i, v, ok, err)
		}
		pending = append(pending, b)
	}
	if hooks != 3 {
		t.Fatalf("%d hooks ran, want 3", hooks)
	}
	for _, b := range pending {
		if err := b.SyncWait(); err != nil {
			t.Fatal(err)
		}
		if err := b.SyncWait(); !errors.Is(err, ErrBatchDone) {
			t.Fatalf("second SyncWait: %v, want ErrBatchDone", err)
		}
	}
	e2 := crash(t, e, fs, 0, 0)
	for i := range 3 {
		if _, ok, err := e2.Get([]byte{'k', byte(i)}); err != nil || !ok {
			t.Fatalf("k%d lost in the crash: %v %v", i, ok, err)
		}
	}
	b := e2.NewBatch()
	if err := b.SyncWait(); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("SyncWait without CommitNoSyncWait: %v, want ErrBatchDone", err)
	}
	b.Close()
}

// Get reuses one iterator per batch; it must still see the batch's writes
// made between lookups, and deletions of committed keys.
func TestBatchGetSeesWritesBetweenLookups(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	seed := e.NewBatch()
	for _, k := range []string{"a", "c", "d"} {
		if err := seed.Set([]byte(k), []byte("old-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	commit(t, seed, true)

	b := e.NewBatch()
	defer b.Close()
	want := func(k, v string, found bool) {
		t.Helper()
		got, ok, err := b.Get([]byte(k))
		if err != nil || ok != found || string(got) != v {
			t.Fatalf("Get(%q) = %q, %v, %v; want %q, %v", k, got, ok, err, v, found)
		}
	}
	want("a", "old-a", true)
	want("b", "", false)
	if err := b.Set([]byte("a"), []byte("new-a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Set([]byte("b"), []byte("new-b")); err != nil {
		t.Fatal(err)
	}
	want("a", "new-a", true)
	want("b", "new-b", true)
	if err := b.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	want("a", "", false)
	if err := b.DeleteRange([]byte("c"), []byte("e")); err != nil {
		t.Fatal(err)
	}
	want("c", "", false)
	want("d", "", false)
	want("ab", "", false) // a prefix of no key, between two keys
	commit(t, b, false)
	if _, _, err := b.Get([]byte("b")); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("Get after Commit: %v, want ErrBatchDone", err)
	}
	if v, ok, err := e.Get([]byte("b")); err != nil || !ok || string(v) != "new-b" {
		t.Fatalf("committed b: %q %v %v", v, ok, err)
	}
}

// A write batch stages and commits like any batch but serves no reads.
func TestWriteBatchServesNoReads(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	b := e.NewWriteBatch()
	if err := b.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get([]byte("k")); err == nil {
		t.Fatal("Get on a write batch succeeded")
	}
	commit(t, b, true)
	if v, ok, err := e.Get([]byte("k")); err != nil || !ok || string(v) != "v" {
		t.Fatalf("k: %q %v %v", v, ok, err)
	}
}
