package storage

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestBatchSeesItsOwnWritesOverTheEngine(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	b := e.NewBatch()
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := b.Set([]byte(k), []byte("old-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	commit(t, b, true)

	b = e.NewBatch()
	defer b.Close()
	if !b.Empty() {
		t.Fatal("new batch not empty")
	}
	if err := b.Set([]byte("b"), []byte("new-b")); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteRange([]byte("c"), []byte("d")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Set([]byte("e"), []byte("new-e")); err != nil {
		t.Fatal(err)
	}
	if b.Empty() {
		t.Fatal("batch with writes reports Empty")
	}
	if v, ok := mustGet(t, b.Get, []byte("b")); !ok || v != "new-b" {
		t.Errorf("batch Get(b) = %q, %v; want new-b", v, ok)
	}
	if _, ok := mustGet(t, b.Get, []byte("c")); ok {
		t.Error("batch Get(c) found a key its DeleteRange removed")
	}
	if v, ok := mustGet(t, b.Get, []byte("d")); !ok || v != "old-d" {
		t.Errorf("batch Get(d) = %q, %v; want the engine's old-d", v, ok)
	}
	var seen []string
	if err := b.Iterate([]byte("a"), []byte("z"), func(k, v []byte) bool {
		seen = append(seen, string(k)+"="+string(v))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(seen, ","), "b=new-b,d=old-d,e=new-e"; got != want {
		t.Errorf("batch Iterate = %s, want %s", got, want)
	}
	// The engine does not see uncommitted writes.
	if v, ok := mustGet(t, e.Get, []byte("b")); !ok || v != "old-b" {
		t.Errorf("engine Get(b) before commit = %q, %v", v, ok)
	}
	commit(t, b, false)
	if got := dump(t, e, []byte("a"), []byte("z")); len(got) != 3 || got["b"] != "new-b" || got["d"] != "old-d" || got["e"] != "new-e" {
		t.Errorf("engine after commit = %v", got)
	}
}

func TestBatchHooksRunInOrderOnlyAfterCommit(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	var order []int
	b := e.NewBatch()
	if err := b.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		b.OnCommit(func() {
			// A hook sees the committed write.
			if _, ok := mustGet(t, e.Get, []byte("k")); !ok {
				t.Error("hook ran before the write was visible")
			}
			order = append(order, i)
		})
	}
	if len(order) != 0 {
		t.Fatal("hook ran before Commit")
	}
	commit(t, b, true)
	if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Errorf("hooks ran in order %v", order)
	}
	if err := b.Commit(true); !errors.Is(err, ErrBatchDone) {
		t.Errorf("second Commit = %v, want ErrBatchDone", err)
	}
	b.Close() // harmless after Commit

	ran := false
	b = e.NewBatch()
	b.OnCommit(func() { ran = true })
	if err := b.Set([]byte("x"), []byte("y")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if ran {
		t.Error("hook of a closed batch ran")
	}
	if err := b.Set([]byte("x"), []byte("y")); !errors.Is(err, ErrBatchDone) {
		t.Errorf("Set after Close = %v, want ErrBatchDone", err)
	}
	if _, ok := mustGet(t, e.Get, []byte("x")); ok {
		t.Error("a closed batch's write reached the engine")
	}
	// An empty batch commits, synced or not, and runs its hooks.
	b = e.NewBatch()
	b.OnCommit(func() { ran = true })
	commit(t, b, true)
	if !ran {
		t.Error("hook of an empty batch did not run")
	}
}

func TestReadViewIsConsistent(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	b := e.NewBatch()
	_ = b.Set([]byte("a"), []byte("1"))
	_ = b.Set([]byte("b"), []byte("1"))
	commit(t, b, false)
	v := e.NewReadView()
	defer v.Close()
	b = e.NewBatch()
	_ = b.Set([]byte("a"), []byte("2"))
	_ = b.Delete([]byte("b"))
	_ = b.Set([]byte("c"), []byte("2"))
	commit(t, b, false)

	if got, ok := mustGet(t, v.Get, []byte("a")); !ok || got != "1" {
		t.Errorf("view Get(a) = %q, %v; want 1", got, ok)
	}
	var keys []string
	if err := v.Iterate(nil, nil, func(k, _ []byte) bool {
		keys = append(keys, string(k))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "a,b" {
		t.Errorf("view keys = %v, want a,b", keys)
	}
	if got, _ := mustGet(t, e.Get, []byte("a")); got != "2" {
		t.Errorf("engine Get(a) = %q, want 2", got)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestIterateStopsAndCopiesValues(t *testing.T) {
	t.Parallel()
	e, _ := openMem(t, Options{})
	b := e.NewBatch()
	for _, k := range []string{"a", "b", "c", "d"} {
		_ = b.Set([]byte(k), []byte(k))
	}
	commit(t, b, false)
	var seen []string
	if err := e.Iterate([]byte("b"), []byte("d"), func(k, _ []byte) bool {
		seen = append(seen, string(k))
		return len(seen) < 1
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != "b" {
		t.Errorf("Iterate visited %v after fn returned false", seen)
	}
	v, _, _ := e.Get([]byte("a"))
	v[0] = 'z'
	if got, _ := mustGet(t, e.Get, []byte("a")); got != "a" {
		t.Error("modifying a returned value changed the engine")
	}
}

func TestClosedEngineRefusesUse(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, _ := openMem(t, Options{Logger: logger})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if _, _, err := e.Get([]byte("a")); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v", err)
	}
	if _, err := e.RaftLog(1); !errors.Is(err, ErrClosed) {
		t.Errorf("RaftLog after Close = %v", err)
	}
	if !strings.Contains(logs.String(), "component=pebble") {
		t.Errorf("Pebble's logging did not reach the logger: %q", logs.String())
	}
}
