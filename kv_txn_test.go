package concord

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
)

// tagged makes keys of the running subtest that share one hash tag.
func tagged(t *testing.T, names ...string) [][]byte {
	keys := make([][]byte, len(names))
	for i, name := range names {
		keys[i] = []byte("{" + t.Name() + "}:" + name)
	}
	return keys
}

func testTxn(t *testing.T, n *Node) {
	ctx := testCtx(t)
	keys := tagged(t, "balance", "log", "never")
	balance, log, never := keys[0], keys[1], keys[2]

	// Open the account if it does not exist: both keys are written by one
	// command, and a get in the branch sees the put before it.
	open := Txn{
		If:   []Compare{KeyMissing(balance)},
		Then: []Op{OpPut(balance, []byte("100")), OpPut(log, []byte("opened")), OpGet(balance)},
		Else: []Op{OpGet(balance)},
	}
	res, err := n.Txn(ctx, open)
	if err != nil {
		t.Fatalf("first Txn: %v", err)
	}
	if !res.Succeeded || len(res.Results) != 3 {
		t.Fatalf("first Txn = %+v, want the then branch's 3 results", res)
	}
	for i, r := range res.Results {
		if r.Err != nil || r.KeyValue == nil || r.KeyValue.ModRevision != res.Revision {
			t.Fatalf("then op %d = %+v, want revision %d", i, r, res.Revision)
		}
	}
	if r := res.Results[2].KeyValue; string(r.Value) != "100" || string(r.Key) != string(balance) {
		t.Fatalf("get after put in the txn = %+v", r)
	}
	if res.Results[0].KeyValue.Value != nil {
		t.Fatalf("a put's result carries a value: %+v", res.Results[0].KeyValue)
	}
	if got := mustGet(t, n, log); string(got.Value) != "opened" || got.ModRevision != res.Revision {
		t.Fatalf("log after the txn = %+v", got)
	}

	// Again: the account exists, so the else branch runs and writes nothing.
	again, err := n.Txn(ctx, open)
	if err != nil || again.Succeeded || len(again.Results) != 1 || string(again.Results[0].KeyValue.Value) != "100" {
		t.Fatalf("second Txn = %+v, %v; want the else branch reading 100", again, err)
	}
	if got := mustGet(t, n, balance); got.Version != 1 {
		t.Fatalf("the else branch wrote: %+v", got)
	}

	// Deleting a missing key inside a transaction is reported per op and
	// does not stop the rest.
	res, err = n.Txn(ctx, Txn{
		If:   []Compare{CompareValue(balance, CmpEqual, []byte("100")), KeyExists(log)},
		Then: []Op{OpDelete(never), OpDelete(log), OpPut(balance, []byte("90")), OpGet(log)},
	})
	if err != nil || !res.Succeeded || len(res.Results) != 4 {
		t.Fatalf("third Txn = %+v, %v", res, err)
	}
	if !errors.Is(res.Results[0].Err, ErrNotFound) || res.Results[0].KeyValue != nil {
		t.Errorf("delete of a missing key in a txn = %+v, want ErrNotFound", res.Results[0])
	}
	if r := res.Results[1]; r.Err != nil || r.KeyValue.Version != 1 {
		t.Errorf("delete in a txn = %+v, want the removed key's metadata", r)
	}
	if !errors.Is(res.Results[3].Err, ErrNotFound) {
		t.Errorf("get of a key deleted earlier in the txn = %+v, want ErrNotFound", res.Results[3])
	}
	wantMissing(t, n, log)
	if got := mustGet(t, n, balance); string(got.Value) != "90" || got.Version != 2 {
		t.Fatalf("balance after the third txn = %+v", got)
	}

	// A transaction of compares only is allowed: it reports the outcome.
	res, err = n.Txn(ctx, Txn{If: []Compare{KeyExists(log)}})
	if err != nil || res.Succeeded || len(res.Results) != 0 {
		t.Fatalf("compare-only Txn = %+v, %v", res, err)
	}
}

// testTxnCompares checks every compare target and operator against a key
// with known metadata, and against a missing key.
func testTxnCompares(t *testing.T, n *Node) {
	ctx := testCtx(t)
	keys := tagged(t, "k", "missing")
	k, missing := keys[0], keys[1]
	mustPut(t, n, k, []byte("m"))
	meta := mustPut(t, n, k, []byte("m")) // version 2
	cases := []struct {
		c    Compare
		want bool
	}{
		{CompareValue(k, CmpEqual, []byte("m")), true},
		{CompareValue(k, CmpNotEqual, []byte("m")), false},
		{CompareValue(k, CmpLess, []byte("n")), true},
		{CompareValue(k, CmpLess, []byte("m")), false},
		{CompareValue(k, CmpGreater, []byte("a")), true},
		{CompareValue(k, CmpGreater, []byte("z")), false},
		{CompareVersion(k, CmpEqual, 2), true},
		{CompareVersion(k, CmpNotEqual, 2), false},
		{CompareVersion(k, CmpGreater, 1), true},
		{CompareVersion(k, CmpLess, 2), false},
		{CompareCreateRevision(k, CmpEqual, meta.CreateRevision), true},
		{CompareCreateRevision(k, CmpLess, meta.ModRevision), true},
		{CompareModRevision(k, CmpEqual, meta.ModRevision), true},
		{CompareModRevision(k, CmpGreater, meta.ModRevision), false},
		{KeyExists(k), true},
		{KeyMissing(k), false},
		{KeyExists(missing), false},
		{KeyMissing(missing), true},
		// A missing key has version and revisions 0, and no value.
		{CompareVersion(missing, CmpEqual, 0), true},
		{CompareModRevision(missing, CmpLess, 1), true},
		{CompareValue(missing, CmpEqual, nil), false},
		{CompareValue(missing, CmpNotEqual, []byte("m")), false},
	}
	for i, tc := range cases {
		res, err := n.Txn(ctx, Txn{If: []Compare{tc.c}, Then: []Op{OpGet(k)}, Else: []Op{OpGet(missing)}})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if res.Succeeded != tc.want {
			t.Errorf("case %d (%v): succeeded = %v, want %v", i, tc.c.c, res.Succeeded, tc.want)
		}
	}
	// Compares combine with AND.
	res, err := n.Txn(ctx, Txn{If: []Compare{KeyExists(k), KeyExists(missing)}, Then: []Op{OpGet(k)}})
	if err != nil || res.Succeeded {
		t.Fatalf("one false compare of two: %+v, %v", res, err)
	}
}

// testTxnTransfers moves money between two accounts of one hash tag from
// several goroutines, each transfer a transaction guarded by both
// accounts' mod revisions: the total never changes and no transfer is
// lost.
func testTxnTransfers(t *testing.T, n *Node) {
	const workers, each, start = 3, 4, 100
	keys := tagged(t, "alice", "bob")
	for _, k := range keys {
		mustPut(t, n, k, []byte(strconv.Itoa(start)))
	}
	ctx := testCtx(t)
	done := make(chan error, workers)
	for w := range workers {
		go func() {
			from, to := keys[w%2], keys[1-w%2]
			for range each {
				if err := transfer(ctx, n, from, to, 1); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range workers {
		if err := <-done; err != nil {
			t.Fatalf("transfer: %v", err)
		}
	}
	got, err := n.GetMany(ctx, keys, WithConsistency(Strong))
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := strconv.Atoi(string(got[0].Value))
	bob, _ := strconv.Atoi(string(got[1].Value))
	// Workers 0 and 2 pay from alice, worker 1 from bob.
	if want := start - each; alice != want || bob != 2*start-want {
		t.Fatalf("alice %d, bob %d; want %d and %d", alice, bob, want, 2*start-want)
	}
	if v := got[0].Version + got[1].Version; v != 2+2*workers*each {
		t.Fatalf("the accounts were written %d times, want %d", v-2, 2*workers*each)
	}
}

// transfer moves amount from one account to another with a read, then a
// transaction that applies only if neither account changed since.
func transfer(ctx context.Context, n *Node, from, to []byte, amount int) error {
	for {
		cur, err := n.GetMany(ctx, [][]byte{from, to}, WithConsistency(Strong))
		if err != nil {
			return err
		}
		if cur[0] == nil || cur[1] == nil {
			return fmt.Errorf("an account is missing: %v", cur)
		}
		a, errA := strconv.Atoi(string(cur[0].Value))
		b, errB := strconv.Atoi(string(cur[1].Value))
		if err := errors.Join(errA, errB); err != nil {
			return err
		}
		res, err := n.Txn(ctx, Txn{
			If: []Compare{
				CompareModRevision(from, CmpEqual, cur[0].ModRevision),
				CompareModRevision(to, CmpEqual, cur[1].ModRevision),
			},
			Then: []Op{
				OpPut(from, []byte(strconv.Itoa(a-amount))),
				OpPut(to, []byte(strconv.Itoa(b+amount))),
			},
		})
		if err != nil {
			return err
		}
		if res.Succeeded {
			return nil
		}
	}
}
