package concord

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// testScan pages through the whole store (other subtests write to it at
// the same time) and checks that the keys of one hash tag come out
// together, in key order, each once, and that a cursor resumes strictly
// after its key.
func testScan(t *testing.T, n *Node) {
	ctx := testCtx(t)
	const count = 10
	keys := make([][]byte, count)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("{%s}:%02d", t.Name(), i))
		mustPut(t, n, keys[i], []byte(fmt.Sprint(i)))
	}
	gone := []byte(fmt.Sprintf("{%s}:%02d-deleted", t.Name(), 3))
	mustPut(t, n, gone, []byte("x"))
	if err := n.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}

	// Resuming after a key lists the keys of its tag that follow it.
	page, more, err := n.Scan(ctx, keys[0], 3)
	if err != nil || !more || len(page) != 3 {
		t.Fatalf("Scan after %q, limit 3 = %d keys, more %v, %v", keys[0], len(page), more, err)
	}
	for i, kv := range page {
		if !bytes.Equal(kv.Key, keys[i+1]) || string(kv.Value) != fmt.Sprint(i+1) || kv.Version != 1 {
			t.Fatalf("page[%d] = %+v, want %q", i, kv, keys[i+1])
		}
	}
	page, _, err = n.Scan(ctx, keys[3], 2, WithKeysOnly(), WithConsistency(Strong))
	if err != nil || len(page) != 2 || !bytes.Equal(page[0].Key, keys[4]) || page[0].Value != nil || page[0].ModRevision == 0 {
		t.Fatalf("keys-only Scan after %q = %+v, %v", keys[3], page, err)
	}

	// A prefix lists only its keys: those of the tag, less the deleted one.
	prefix := []byte(fmt.Sprintf("{%s}:", t.Name()))
	page, more, err = n.Scan(ctx, nil, 50, WithPrefix(prefix))
	if err != nil || more || len(page) != count {
		t.Fatalf("Scan with prefix %q = %d keys, more %v, %v; want %d keys", prefix, len(page), more, err, count)
	}
	for i, kv := range page {
		if !bytes.Equal(kv.Key, keys[i]) {
			t.Fatalf("prefix page[%d] = %q, want %q", i, kv.Key, keys[i])
		}
	}
	if page, more, err = n.Scan(ctx, nil, 0, WithPrefix([]byte("{no such tag}"))); err != nil || more || len(page) != 0 {
		t.Fatalf("Scan with an unmatched prefix = %d keys, more %v, %v", len(page), more, err)
	}

	// The whole store, in pages.
	var all [][]byte
	var after []byte
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("scan does not end: %d keys so far", len(all))
		}
		page, more, err := n.Scan(ctx, after, 50, WithConsistency(Eventual))
		if err != nil {
			t.Fatalf("Scan after %q: %v", after, err)
		}
		for _, kv := range page {
			all = append(all, kv.Key)
		}
		if !more {
			break
		}
		if len(page) > 0 {
			after = page[len(page)-1].Key
		}
	}
	first := slices.IndexFunc(all, func(k []byte) bool { return bytes.Equal(k, keys[0]) })
	if first < 0 || first+count > len(all) {
		t.Fatalf("the tag's first key is not listed in full (at %d of %d)", first, len(all))
	}
	for i, k := range all[first : first+count] {
		if !bytes.Equal(k, keys[i]) {
			t.Fatalf("key %d of the tag is %q, want %q", i, k, keys[i])
		}
	}
	seen := make(map[string]bool, len(all))
	for _, k := range all {
		if seen[string(k)] {
			t.Fatalf("%q listed twice", k)
		}
		seen[string(k)] = true
	}
	if seen[string(gone)] {
		t.Fatalf("a deleted key is listed")
	}
}
