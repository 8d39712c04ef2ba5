package client

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/concord-kv/concord"
)

// TestClient runs one test body through the concord.KV interface against
// an embedded node and against a client of the same cluster (options,
// results and errors must be the same), then checks the client's routing,
// through a leadership change. One cluster serves all, to keep the test
// short.
func TestClient(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3)
	cl := c.newClient()
	t.Run("embedded", func(t *testing.T) { testKV(t, c.nodes[1], "embedded/") })
	t.Run("remote", func(t *testing.T) { testKV(t, cl, "remote/") })
	t.Run("admin", func(t *testing.T) { testAdmin(t, c, cl) })
	t.Run("routing", func(t *testing.T) { testRouting(t, c, cl) })
}

func testKV(t *testing.T, kv concord.KV, prefix string) {
	ctx := testCtx(t)
	k := func(s string) []byte { return []byte(prefix + s) }

	// Put and Get, with metadata.
	w, err := kv.Put(ctx, k("a"), []byte("1"))
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if w.Value != nil || w.Version != 1 || w.ModRevision == 0 || !bytes.Equal(w.Key, k("a")) {
		t.Fatalf("put result %+v", w)
	}
	for _, level := range []concord.Consistency{concord.Leader, concord.Strong} {
		got, err := kv.Get(ctx, k("a"), concord.WithConsistency(level))
		if err != nil || string(got.Value) != "1" || got.ModRevision != w.ModRevision || got.Version != 1 {
			t.Fatalf("get at %v: %+v, %v", level, got, err)
		}
	}
	if got, err := kv.Get(ctx, k("a"), concord.WithConsistency(concord.Eventual)); err != nil && !isNotFound(err) || err == nil && string(got.Value) != "1" {
		t.Fatalf("eventual get: %+v, %v", got, err)
	}
	_, err = kv.Get(ctx, k("missing"))
	wantErr(t, "get missing", err, concord.ErrNotFound)
	if got, err := kv.Get(ctx, k("a")); err != nil || got.Value == nil {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if _, err := kv.Put(ctx, k("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := kv.Get(ctx, k("empty")); err != nil || got.Value == nil || len(got.Value) != 0 {
		t.Fatalf("get empty value: %+v, %v", got, err)
	}

	// TTLs: set, kept, cleared, touched.
	w, err = kv.Put(ctx, k("a"), []byte("2"), concord.WithTTL(time.Hour))
	if err != nil || w.ExpiresAt.IsZero() || w.Version != 2 {
		t.Fatalf("put with ttl: %+v, %v", w, err)
	}
	if ttl, err := kv.TTL(ctx, k("a")); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("ttl %v, %v", ttl, err)
	}
	if _, err := kv.Put(ctx, k("a"), []byte("3"), concord.WithKeepTTL()); err != nil {
		t.Fatal(err)
	}
	if ttl, err := kv.TTL(ctx, k("a"), concord.WithConsistency(concord.Strong)); err != nil || ttl <= 0 {
		t.Fatalf("kept ttl %v, %v", ttl, err)
	}
	if w, err := kv.Touch(ctx, k("a"), 2*time.Hour); err != nil || w.Value != nil || w.Version != 4 {
		t.Fatalf("touch: %+v, %v", w, err)
	}
	if ttl, err := kv.TTL(ctx, k("a")); err != nil || ttl <= time.Hour {
		t.Fatalf("touched ttl %v, %v", ttl, err)
	}
	if _, err := kv.Put(ctx, k("a"), []byte("4")); err != nil {
		t.Fatal(err)
	}
	if ttl, err := kv.TTL(ctx, k("a")); err != nil || ttl != 0 {
		t.Fatalf("cleared ttl %v, %v", ttl, err)
	}
	_, err = kv.Touch(ctx, k("missing"), time.Minute)
	wantErr(t, "touch missing", err, concord.ErrNotFound)
	_, err = kv.TTL(ctx, k("missing"))
	wantErr(t, "ttl missing", err, concord.ErrNotFound)

	// Conditional writes.
	_, err = kv.PutIf(ctx, k("a"), []byte("x"), concord.IfNotExists())
	wantErr(t, "put if not exists", err, concord.ErrConditionFailed)
	_, err = kv.PutIf(ctx, k("a"), []byte("x"), concord.IfValue([]byte("wrong")))
	wantErr(t, "put if value", err, concord.ErrConditionFailed)
	cur, err := kv.Get(ctx, k("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.PutIf(ctx, k("a"), []byte("5"), concord.IfVersion(cur.Version), concord.IfModRevision(cur.ModRevision), concord.IfValue([]byte("4")), concord.WithTTL(time.Hour)); err != nil {
		t.Fatalf("put if all hold: %v", err)
	}
	if _, err := kv.PutIf(ctx, k("new"), []byte("n"), concord.IfNotExists()); err != nil {
		t.Fatalf("put if not exists on a new key: %v", err)
	}
	_, err = kv.PutIf(ctx, k("a"), []byte("x"))
	wantErr(t, "put if without condition", err, concord.ErrInvalidArgument)
	err = kv.DeleteIf(ctx, k("a"), concord.IfValue([]byte("4")))
	wantErr(t, "delete if stale value", err, concord.ErrConditionFailed)
	err = kv.DeleteIf(ctx, k("a"), concord.IfNotExists())
	wantErr(t, "delete if not exists", err, concord.ErrInvalidArgument)
	if err := kv.DeleteIf(ctx, k("a"), concord.IfValue([]byte("5")), concord.IfExists()); err != nil {
		t.Fatalf("delete if: %v", err)
	}
	_, err = kv.Get(ctx, k("a"))
	wantErr(t, "get deleted", err, concord.ErrNotFound)
	if err := kv.Delete(ctx, k("new")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete missing", kv.Delete(ctx, k("new")), concord.ErrNotFound)

	// Bad input is rejected with the right sentinel.
	_, err = kv.Put(ctx, nil, []byte("v"))
	wantErr(t, "empty key", err, concord.ErrInvalidKey)
	_, err = kv.Put(ctx, bytes.Repeat([]byte("k"), 5000), []byte("v"))
	wantErr(t, "long key", err, concord.ErrInvalidKey)
	_, err = kv.Put(ctx, k("big"), make([]byte, 1<<20+1))
	wantErr(t, "large value", err, concord.ErrValueTooLarge)
	_, err = kv.Put(ctx, k("b"), nil, concord.WithConsistency(concord.Strong))
	wantErr(t, "option a put does not take", err, concord.ErrInvalidArgument)
	_, err = kv.Put(ctx, k("b"), nil, concord.WithTTL(-time.Second))
	wantErr(t, "negative ttl", err, concord.ErrInvalidArgument)
	_, err = kv.Put(ctx, k("b"), nil, concord.WithTTL(time.Second), concord.WithKeepTTL())
	wantErr(t, "ttl and keep ttl", err, concord.ErrInvalidArgument)
	_, err = kv.Touch(ctx, k("b"), -time.Second)
	wantErr(t, "negative touch", err, concord.ErrInvalidArgument)
	_, err = kv.PutMany(ctx, make([]concord.PutItem, 501))
	wantErr(t, "large batch", err, concord.ErrBatchTooLarge)
	_, err = kv.PutMany(ctx, nil)
	wantErr(t, "empty batch", err, concord.ErrInvalidArgument)
	_, _, err = kv.Scan(ctx, nil, 501)
	wantErr(t, "large scan", err, concord.ErrBatchTooLarge)
	_, _, err = kv.Scan(ctx, nil, -1)
	wantErr(t, "negative scan limit", err, concord.ErrInvalidArgument)
	if _, err := kv.Get(ctx, k("b")); !isNotFound(err) {
		t.Fatalf("rejected writes wrote: %v", err)
	}

	testBulk(t, kv, k)
	testTxn(t, kv, prefix)
	testScan(t, kv, prefix)
	testWatch(t, kv, prefix)
}

// testWatch replays a prefix's history from a revision, follows it live,
// refuses bad input, and ends when its context does.
func testWatch(t *testing.T, kv concord.KV, prefix string) {
	ctx := testCtx(t)
	tag := []byte("{" + prefix + "watch}:")
	key := func(s string) []byte { return append(append([]byte{}, tag...), s...) }
	first, err := kv.Put(ctx, key("a"), []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := kv.Watch(wctx, nil, concord.WithPrefix(tag), concord.WithStartRevision(first.ModRevision))
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	if _, err := kv.Put(ctx, key("b"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, key("a")); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ        concord.EventType
		key, value string
	}{{concord.EventPut, "a", "1"}, {concord.EventPut, "b", "2"}, {concord.EventDelete, "a", ""}}
	for i, w := range want {
		var ev concord.WatchEvent
		select {
		case ev = <-events:
		case <-ctx.Done():
			t.Fatalf("event %d: %v", i, ctx.Err())
		}
		if ev.Err != nil || ev.Type != w.typ || !bytes.Equal(ev.Key, key(w.key)) || string(ev.Value) != w.value {
			t.Fatalf("event %d = %v %q=%q (%v), want %v %q=%q", i, ev.Type, ev.Key, ev.Value, ev.Err, w.typ, key(w.key), w.value)
		}
	}
	cancel()
	for ev := range events {
		if ev.Err == nil {
			t.Fatalf("an event after the watch was cancelled: %+v", ev)
		}
	}

	_, err = kv.Watch(ctx, nil, concord.WithPrefix([]byte("no tag")))
	wantErr(t, "watch of a prefix without a tag", err, concord.ErrInvalidArgument)
	_, err = kv.Watch(ctx, nil)
	wantErr(t, "watch of an empty key", err, concord.ErrInvalidKey)
	_, err = kv.Watch(ctx, []byte("k"), concord.WithTTL(time.Second))
	wantErr(t, "watch with a write option", err, concord.ErrInvalidArgument)
}

func isNotFound(err error) bool { return err != nil && errorsIs(err, concord.ErrNotFound) }

func testBulk(t *testing.T, kv concord.KV, k func(string) []byte) {
	ctx := testCtx(t)
	var items []concord.PutItem
	var keys [][]byte
	for i := range 20 {
		it := concord.PutItem{Key: k(fmt.Sprintf("bulk/%d", i)), Value: fmt.Appendf(nil, "v%d", i)}
		if i == 3 {
			it.TTL = time.Hour
		}
		items = append(items, it)
		keys = append(keys, it.Key)
	}
	errs, err := kv.PutMany(ctx, items)
	if err != nil || len(errs) != len(items) || slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		t.Fatalf("put many: %v, %v", errs, err)
	}
	withMissing := append(slices.Clone(keys), k("bulk/missing"))
	got, err := kv.GetMany(ctx, withMissing, concord.WithConsistency(concord.Strong))
	if err != nil || len(got) != len(withMissing) {
		t.Fatalf("get many: %v, %v", got, err)
	}
	for i, it := range items {
		if got[i] == nil || !bytes.Equal(got[i].Value, it.Value) || got[i].ExpiresAt.IsZero() != (i != 3) {
			t.Fatalf("get many item %d: %+v", i, got[i])
		}
	}
	if got[len(items)] != nil {
		t.Fatalf("missing key read as %+v", got[len(items)])
	}
	errs, err = kv.TouchMany(ctx, []concord.TouchItem{{Key: keys[0], TTL: time.Hour}, {Key: k("bulk/missing"), TTL: time.Hour}})
	if err != nil || errs[0] != nil || !errorsIs(errs[1], concord.ErrNotFound) {
		t.Fatalf("touch many: %v, %v", errs, err)
	}
	errs, err = kv.DeleteMany(ctx, withMissing)
	if err != nil || len(errs) != len(withMissing) {
		t.Fatalf("delete many: %v, %v", errs, err)
	}
	for i, e := range errs {
		if i < len(items) && e != nil || i == len(items) && !errorsIs(e, concord.ErrNotFound) {
			t.Fatalf("delete many item %d: %v", i, e)
		}
	}
	_, err = kv.DeleteMany(ctx, [][]byte{k("x"), nil})
	wantErr(t, "delete many with an empty key", err, concord.ErrInvalidKey)
}

func testTxn(t *testing.T, kv concord.KV, prefix string) {
	ctx := testCtx(t)
	a, b := []byte("{"+prefix+"acct}:a"), []byte("{"+prefix+"acct}:b")
	txn := concord.Txn{
		If:   []concord.Compare{concord.KeyMissing(a)},
		Then: []concord.Op{concord.OpPut(a, []byte("1"), concord.WithTTL(time.Hour)), concord.OpGet(a), concord.OpDelete(b)},
		Else: []concord.Op{concord.OpGet(a)},
	}
	res, err := kv.Txn(ctx, txn)
	if err != nil || !res.Succeeded || len(res.Results) != 3 {
		t.Fatalf("txn: %+v, %v", res, err)
	}
	if put := res.Results[0].KeyValue; put == nil || put.Value != nil || put.ModRevision != res.Revision || put.ExpiresAt.IsZero() {
		t.Fatalf("txn put result %+v", put)
	}
	if get := res.Results[1].KeyValue; get == nil || string(get.Value) != "1" {
		t.Fatalf("txn get result %+v", get)
	}
	if !errorsIs(res.Results[2].Err, concord.ErrNotFound) {
		t.Fatalf("txn delete of a missing key: %+v", res.Results[2])
	}
	res, err = kv.Txn(ctx, txn)
	if err != nil || res.Succeeded || len(res.Results) != 1 || string(res.Results[0].KeyValue.Value) != "1" {
		t.Fatalf("txn else: %+v, %v", res, err)
	}
	res, err = kv.Txn(ctx, concord.Txn{
		If:   []concord.Compare{concord.CompareValue(a, concord.CmpEqual, []byte("1")), concord.CompareVersion(a, concord.CmpLess, 5), concord.CompareModRevision(a, concord.CmpGreater, 0), concord.CompareCreateRevision(a, concord.CmpNotEqual, 0), concord.KeyExists(a)},
		Then: []concord.Op{concord.OpDelete(a)},
	})
	if err != nil || !res.Succeeded || res.Results[0].Err != nil {
		t.Fatalf("txn with every compare: %+v, %v", res, err)
	}
	_, err = kv.Txn(ctx, concord.Txn{Then: []concord.Op{concord.OpPut(a, nil), concord.OpPut([]byte(prefix+"other"), nil)}})
	wantErr(t, "txn over two tags", err, concord.ErrInvalidArgument)
	_, err = kv.Txn(ctx, concord.Txn{Then: []concord.Op{{}}})
	wantErr(t, "txn with a zero op", err, concord.ErrInvalidArgument)
	_, err = kv.Txn(ctx, concord.Txn{Then: []concord.Op{concord.OpPut(a, nil, concord.WithKeysOnly())}})
	wantErr(t, "txn op with a bad option", err, concord.ErrInvalidArgument)
}

func testScan(t *testing.T, kv concord.KV, prefix string) {
	ctx := testCtx(t)
	p := prefix + "scan/"
	want := map[string]bool{}
	var items []concord.PutItem
	for i := range 25 {
		key := fmt.Sprintf("%s%02d", p, i)
		want[key] = true
		items = append(items, concord.PutItem{Key: []byte(key), Value: []byte("v")})
	}
	if _, err := kv.PutMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	var after []byte
	for pages := 0; ; pages++ {
		if pages > 30 {
			t.Fatal("scan does not end")
		}
		page, more, err := kv.Scan(ctx, after, 10, concord.WithPrefix([]byte(p)), concord.WithConsistency(concord.Strong))
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		if len(page) > 10 {
			t.Fatalf("page of %d keys", len(page))
		}
		for _, kv := range page {
			if got[string(kv.Key)] || !want[string(kv.Key)] || string(kv.Value) != "v" {
				t.Fatalf("scan listed %q = %q", kv.Key, kv.Value)
			}
			got[string(kv.Key)] = true
			after = kv.Key
		}
		if !more {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("scan listed %d of %d keys", len(got), len(want))
	}
	page, _, err := kv.Scan(ctx, nil, 5, concord.WithPrefix([]byte(p)), concord.WithKeysOnly())
	if err != nil || len(page) == 0 {
		t.Fatalf("keys-only scan: %v, %v", page, err)
	}
	for _, kv := range page {
		if kv.Value != nil || kv.Version == 0 {
			t.Fatalf("keys-only scan listed %+v", kv)
		}
	}
	_, _, err = kv.Scan(ctx, nil, 5, concord.WithTTL(time.Second))
	wantErr(t, "scan with a put option", err, concord.ErrInvalidArgument)
}
