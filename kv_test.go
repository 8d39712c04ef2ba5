package concord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/internal/await"
)

// The key-value API tests run against one real single-node cluster. Each
// subtest uses keys under its own name, so the parallel ones cannot see
// each other's writes; the subtests that count the node's proposals and
// reads run first, before the parallel ones start.
func TestKV(t *testing.T) {
	n, reg := openKVTestNode(t)
	t.Run("BadInputChangesNothing", func(t *testing.T) { testBadInput(t, n, reg) })
	t.Run("ConsistencyReachesTheReplica", func(t *testing.T) { testConsistency(t, n, reg) })
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *Node)
	}{
		{"PutGet", testPutGet},
		{"Delete", testDelete},
		{"Deadlines", testDeadlines},
		{"PutIf", testPutIf},
		{"DeleteIf", testDeleteIf},
		{"CASRaceHasOneWinner", testCASRace},
		{"CASCounter", testCASCounter},
		{"TTLAndTouch", testTTLAndTouch},
		{"KeepTTL", testKeepTTL},
		{"Expiry", testExpiry},
		{"PutManyGetMany", testPutManyGetMany},
		{"DeleteManyTouchMany", testDeleteManyTouchMany},
		{"FullBatch", testFullBatch},
		{"Txn", testTxn},
		{"TxnCompares", testTxnCompares},
		{"TxnTransfersKeepTheSum", testTxnTransfers},
		{"Scan", testScan},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, n)
		})
	}
}

// openKVTestNode opens a single-node cluster with a fast Raft tick and its
// own metrics registry; it is closed when the test ends.
func openKVTestNode(t *testing.T) (*Node, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Open(ctx, Config{
		DataDir:        t.TempDir(),
		BindAddr:       "127.0.0.1:0",
		Replicas:       1,
		TickInterval:   10 * time.Millisecond,
		RequestTimeout: 10 * time.Second,
		Registerer:     reg,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n, reg
}

// testCtx is a context for one test's calls, bounded so that a hung call
// fails the test instead of the whole run.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// key makes a key private to the running subtest.
func key(t *testing.T, name string) []byte {
	return []byte(t.Name() + "/" + name)
}

func mustPut(t *testing.T, n *Node, k, v []byte, opts ...Option) *KeyValue {
	t.Helper()
	meta, err := n.Put(testCtx(t), k, v, opts...)
	if err != nil {
		t.Fatalf("Put %q: %v", k, err)
	}
	return meta
}

func mustGet(t *testing.T, n *Node, k []byte) *KeyValue {
	t.Helper()
	got, err := n.Get(testCtx(t), k)
	if err != nil {
		t.Fatalf("Get %q: %v", k, err)
	}
	return got
}

func wantMissing(t *testing.T, n *Node, k []byte) {
	t.Helper()
	if got, err := n.Get(testCtx(t), k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get %q = %+v, %v; want ErrNotFound", k, got, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

// sameKV reports how got differs from want, "" if not at all.
func sameKV(got, want *KeyValue) string {
	switch {
	case got == nil || want == nil:
		if got != want {
			return fmt.Sprintf("got %+v, want %+v", got, want)
		}
	case !bytes.Equal(got.Key, want.Key), !bytes.Equal(got.Value, want.Value),
		got.CreateRevision != want.CreateRevision, got.ModRevision != want.ModRevision,
		got.Version != want.Version, !got.ExpiresAt.Equal(want.ExpiresAt):
		return fmt.Sprintf("got %+v, want %+v", *got, *want)
	}
	return ""
}

// metricSum is the sum of a counter family's series whose labels include
// the given ones.
func metricSum(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// testBadInput runs every kind of bad input through every method: each
// call must fail with the right sentinel, send nothing (no proposal, no
// read reaches a replica) and leave the keys it names as they were.
func testBadInput(t *testing.T, n *Node, reg *prometheus.Registry) {
	k := key(t, "k")
	fresh := key(t, "fresh")
	orig := mustPut(t, n, k, []byte("orig"))
	before := mustGet(t, n, k)
	tooLong := bytes.Repeat([]byte("k"), n.cfg.Limits.MaxKeySize+1)
	tooBig := make([]byte, n.cfg.Limits.MaxValueSize+1)
	tooMany := make([][]byte, n.cfg.Limits.MaxBatchItems+1)
	for i := range tooMany {
		tooMany[i] = []byte(fmt.Sprintf("%s/%d", fresh, i))
	}
	tooManyPuts := make([]PutItem, len(tooMany))
	for i, tk := range tooMany {
		tooManyPuts[i] = PutItem{Key: tk, Value: []byte("v")}
	}
	tooManyOps := make([]Op, n.cfg.Limits.MaxBatchItems+1)
	for i := range tooManyOps {
		tooManyOps[i] = OpGet(k)
	}
	other := []byte("{elsewhere}" + string(k))

	proposals := metricSum(t, reg, "concord_rangegroup_proposals_total", nil)
	reads := metricSum(t, reg, "concord_rangegroup_reads_total", nil)
	ctx := testCtx(t)
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"put empty key", func() error { _, err := n.Put(ctx, nil, []byte("v")); return err }, ErrInvalidKey},
		{"put long key", func() error { _, err := n.Put(ctx, tooLong, []byte("v")); return err }, ErrInvalidKey},
		{"put large value", func() error { _, err := n.Put(ctx, k, tooBig); return err }, ErrValueTooLarge},
		{"put negative ttl", func() error { _, err := n.Put(ctx, k, []byte("v"), WithTTL(-time.Second)); return err }, ErrInvalidArgument},
		{"put huge ttl", func() error { _, err := n.Put(ctx, k, []byte("v"), WithTTL(MaxTTL+1)); return err }, ErrInvalidArgument},
		{"put ttl and keep ttl", func() error {
			_, err := n.Put(ctx, k, []byte("v"), WithTTL(time.Hour), WithKeepTTL())
			return err
		}, ErrInvalidArgument},
		{"put with consistency", func() error { _, err := n.Put(ctx, k, []byte("v"), WithConsistency(Strong)); return err }, ErrInvalidArgument},
		{"put with condition", func() error { _, err := n.Put(ctx, k, []byte("v"), IfExists()); return err }, ErrInvalidArgument},
		{"put nil option", func() error { _, err := n.Put(ctx, k, []byte("v"), nil); return err }, ErrInvalidArgument},
		{"put_if no condition", func() error { _, err := n.PutIf(ctx, k, []byte("v")); return err }, ErrInvalidArgument},
		{"put_if only a ttl", func() error { _, err := n.PutIf(ctx, k, []byte("v"), WithTTL(time.Hour)); return err }, ErrInvalidArgument},
		{"put_if contradiction", func() error {
			_, err := n.PutIf(ctx, k, []byte("v"), IfNotExists(), IfValue([]byte("orig")))
			return err
		}, ErrInvalidArgument},
		{"put_if version 0", func() error { _, err := n.PutIf(ctx, k, []byte("v"), IfVersion(0)); return err }, ErrInvalidArgument},
		{"put_if mod revision 0", func() error { _, err := n.PutIf(ctx, k, []byte("v"), IfModRevision(0)); return err }, ErrInvalidArgument},
		{"put_if value twice", func() error {
			_, err := n.PutIf(ctx, k, []byte("v"), IfValue([]byte("orig")), IfValue([]byte("x")))
			return err
		}, ErrInvalidArgument},
		{"put_if large expected value", func() error { _, err := n.PutIf(ctx, k, []byte("v"), IfValue(tooBig)); return err }, ErrValueTooLarge},
		{"put_if empty key", func() error { _, err := n.PutIf(ctx, nil, []byte("v"), IfNotExists()); return err }, ErrInvalidKey},
		{"get empty key", func() error { _, err := n.Get(ctx, nil); return err }, ErrInvalidKey},
		{"get long key", func() error { _, err := n.Get(ctx, tooLong); return err }, ErrInvalidKey},
		{"get with ttl", func() error { _, err := n.Get(ctx, k, WithTTL(time.Hour)); return err }, ErrInvalidArgument},
		{"get unknown level", func() error { _, err := n.Get(ctx, k, WithConsistency(Consistency(9))); return err }, ErrInvalidArgument},
		{"ttl empty key", func() error { _, err := n.TTL(ctx, nil); return err }, ErrInvalidKey},
		{"ttl with condition", func() error { _, err := n.TTL(ctx, k, IfExists()); return err }, ErrInvalidArgument},
		{"delete empty key", func() error { return n.Delete(ctx, nil) }, ErrInvalidKey},
		{"delete with ttl", func() error { return n.Delete(ctx, k, WithTTL(time.Hour)) }, ErrInvalidArgument},
		{"delete with condition", func() error { return n.Delete(ctx, k, IfValue([]byte("orig"))) }, ErrInvalidArgument},
		{"delete_if no condition", func() error { return n.DeleteIf(ctx, k) }, ErrInvalidArgument},
		{"delete_if if not exists", func() error { return n.DeleteIf(ctx, k, IfNotExists()) }, ErrInvalidArgument},
		{"delete_if long key", func() error { return n.DeleteIf(ctx, tooLong, IfExists()) }, ErrInvalidKey},
		{"touch empty key", func() error { _, err := n.Touch(ctx, nil, time.Hour); return err }, ErrInvalidKey},
		{"touch negative ttl", func() error { _, err := n.Touch(ctx, k, -time.Hour); return err }, ErrInvalidArgument},
		{"touch huge ttl", func() error { _, err := n.Touch(ctx, k, MaxTTL+time.Hour); return err }, ErrInvalidArgument},
		{"touch with option", func() error { _, err := n.Touch(ctx, k, time.Hour, WithKeepTTL()); return err }, ErrInvalidArgument},
		{"put_many none", func() error { return bulkCallErr(n.PutMany(ctx, nil)) }, ErrInvalidArgument},
		{"put_many too many", func() error { return bulkCallErr(n.PutMany(ctx, tooManyPuts)) }, ErrBatchTooLarge},
		{"put_many one bad key", func() error {
			return bulkCallErr(n.PutMany(ctx, []PutItem{{Key: k, Value: []byte("v")}, {Key: fresh, Value: []byte("v")}, {Value: []byte("v")}}))
		}, ErrInvalidKey},
		{"put_many one large value", func() error {
			return bulkCallErr(n.PutMany(ctx, []PutItem{{Key: k, Value: []byte("v")}, {Key: fresh, Value: tooBig}}))
		}, ErrValueTooLarge},
		{"put_many negative item ttl", func() error {
			return bulkCallErr(n.PutMany(ctx, []PutItem{{Key: k, Value: []byte("v")}, {Key: fresh, Value: []byte("v"), TTL: -1}}))
		}, ErrInvalidArgument},
		{"put_many with consistency", func() error {
			return bulkCallErr(n.PutMany(ctx, []PutItem{{Key: k, Value: []byte("v")}}, WithConsistency(Eventual)))
		}, ErrInvalidArgument},
		{"get_many none", func() error { _, err := n.GetMany(ctx, nil); return err }, ErrInvalidArgument},
		{"get_many too many", func() error { _, err := n.GetMany(ctx, tooMany); return err }, ErrBatchTooLarge},
		{"get_many one empty key", func() error { _, err := n.GetMany(ctx, [][]byte{k, {}}); return err }, ErrInvalidKey},
		{"delete_many one empty key", func() error { return bulkCallErr(n.DeleteMany(ctx, [][]byte{k, nil})) }, ErrInvalidKey},
		{"delete_many too many", func() error { return bulkCallErr(n.DeleteMany(ctx, append(tooMany, k))) }, ErrBatchTooLarge},
		{"touch_many negative ttl", func() error {
			return bulkCallErr(n.TouchMany(ctx, []TouchItem{{Key: k, TTL: time.Hour}, {Key: k, TTL: -time.Hour}}))
		}, ErrInvalidArgument},
		{"touch_many none", func() error { return bulkCallErr(n.TouchMany(ctx, []TouchItem{})) }, ErrInvalidArgument},
		{"txn empty", func() error { _, err := n.Txn(ctx, Txn{}); return err }, ErrInvalidArgument},
		{"txn keys of two tags", func() error {
			_, err := n.Txn(ctx, Txn{If: []Compare{KeyExists(k)}, Then: []Op{OpPut(other, []byte("v"))}})
			return err
		}, ErrInvalidArgument},
		{"txn zero compare", func() error { _, err := n.Txn(ctx, Txn{If: []Compare{{}}, Then: []Op{OpPut(k, nil)}}); return err }, ErrInvalidArgument},
		{"txn zero op", func() error { _, err := n.Txn(ctx, Txn{Then: []Op{OpPut(k, nil), {}}}); return err }, ErrInvalidArgument},
		{"txn unknown operator", func() error {
			_, err := n.Txn(ctx, Txn{If: []Compare{CompareVersion(k, CompareOp(7), 1)}, Then: []Op{OpPut(k, nil)}})
			return err
		}, ErrInvalidArgument},
		{"txn put with bad option", func() error { _, err := n.Txn(ctx, Txn{Then: []Op{OpPut(k, nil, IfExists())}}); return err }, ErrInvalidArgument},
		{"txn put empty key", func() error { _, err := n.Txn(ctx, Txn{Else: []Op{OpPut(nil, nil)}}); return err }, ErrInvalidKey},
		{"txn put large value", func() error { _, err := n.Txn(ctx, Txn{Then: []Op{OpPut(k, tooBig)}}); return err }, ErrValueTooLarge},
		{"txn too many ops", func() error { _, err := n.Txn(ctx, Txn{Then: tooManyOps}); return err }, ErrBatchTooLarge},
		{"scan negative limit", func() error { _, _, err := n.Scan(ctx, nil, -1); return err }, ErrInvalidArgument},
		{"scan limit too large", func() error { _, _, err := n.Scan(ctx, nil, n.cfg.Limits.MaxBatchItems+1); return err }, ErrBatchTooLarge},
		{"scan after an empty key", func() error { _, _, err := n.Scan(ctx, []byte{}, 10); return err }, ErrInvalidKey},
		{"scan after a long key", func() error { _, _, err := n.Scan(ctx, tooLong, 10); return err }, ErrInvalidKey},
		{"scan with ttl", func() error { _, _, err := n.Scan(ctx, nil, 10, WithTTL(time.Hour)); return err }, ErrInvalidArgument},
		{"get keys only", func() error { _, err := n.Get(ctx, k, WithKeysOnly()); return err }, ErrInvalidArgument},
		{"txn with option", func() error { _, err := n.Txn(ctx, Txn{Then: []Op{OpGet(k)}}, WithConsistency(Strong)); return err }, ErrInvalidArgument},
	}
	for _, tc := range cases {
		err := tc.call()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		} else if !strings.HasPrefix(err.Error(), "concord: ") {
			t.Errorf("%s: error %q does not name the package", tc.name, err)
		}
	}
	if got := metricSum(t, reg, "concord_rangegroup_proposals_total", nil); got != proposals {
		t.Errorf("bad input was proposed: %v proposals, %v before", got, proposals)
	}
	if got := metricSum(t, reg, "concord_rangegroup_reads_total", nil); got != reads {
		t.Errorf("bad input reached a replica: %v reads, %v before", got, reads)
	}
	if diff := sameKV(mustGet(t, n, k), before); diff != "" {
		t.Errorf("bad input changed the key: %s", diff)
	}
	if before.ModRevision != orig.ModRevision {
		t.Errorf("Get reports mod revision %d, Put wrote %d", before.ModRevision, orig.ModRevision)
	}
	wantMissing(t, n, fresh)
	wantMissing(t, n, tooMany[0])
	wantMissing(t, n, other)
}

// bulkCallErr keeps the call-level error of a bulk call, checking that a
// rejected call has no per-item errors.
func bulkCallErr(itemErrs []error, err error) error {
	if err != nil && itemErrs != nil {
		return fmt.Errorf("rejected call has per-item errors %v: %w", itemErrs, err)
	}
	return err
}

// testConsistency checks that each level reaches the replica that serves
// the read, by counting the reads the Store served at each level.
func testConsistency(t *testing.T, n *Node, reg *prometheus.Registry) {
	k := key(t, "k")
	mustPut(t, n, k, []byte("v"), WithTTL(time.Hour))
	leaderLabels := []string{"leader-lease", "leader-read-index"}
	count := func(labels ...string) float64 {
		var sum float64
		for _, l := range labels {
			sum += metricSum(t, reg, "concord_rangegroup_reads_total", map[string]string{"level": l})
		}
		return sum
	}
	calls := []struct {
		name   string
		labels []string
		read   func(ctx context.Context) error
	}{
		{"get default", leaderLabels, func(ctx context.Context) error { _, err := n.Get(ctx, k); return err }},
		{"get leader", leaderLabels, func(ctx context.Context) error { _, err := n.Get(ctx, k, WithConsistency(Leader)); return err }},
		{"get strong", []string{"strong"}, func(ctx context.Context) error { _, err := n.Get(ctx, k, WithConsistency(Strong)); return err }},
		{"get eventual", []string{"eventual"}, func(ctx context.Context) error { _, err := n.Get(ctx, k, WithConsistency(Eventual)); return err }},
		{"ttl strong", []string{"strong"}, func(ctx context.Context) error { _, err := n.TTL(ctx, k, WithConsistency(Strong)); return err }},
		{"ttl eventual", []string{"eventual"}, func(ctx context.Context) error { _, err := n.TTL(ctx, k, WithConsistency(Eventual)); return err }},
		{"get_many strong", []string{"strong"}, func(ctx context.Context) error {
			_, err := n.GetMany(ctx, [][]byte{k, k}, WithConsistency(Strong))
			return err
		}},
		{"get_many eventual", []string{"eventual"}, func(ctx context.Context) error {
			_, err := n.GetMany(ctx, [][]byte{k}, WithConsistency(Eventual))
			return err
		}},
	}
	for _, c := range calls {
		before, all := count(c.labels...), metricSum(t, reg, "concord_rangegroup_reads_total", nil)
		if err := c.read(testCtx(t)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := count(c.labels...) - before; got != 1 {
			t.Errorf("%s: %v reads at %v, want 1", c.name, got, c.labels)
		}
		if got := metricSum(t, reg, "concord_rangegroup_reads_total", nil) - all; got != 1 {
			t.Errorf("%s: %v reads in all, want 1", c.name, got)
		}
	}
}

func testPutGet(t *testing.T, n *Node) {
	k := key(t, "k")
	wantMissing(t, n, k)
	first := mustPut(t, n, k, []byte("one"))
	if !bytes.Equal(first.Key, k) || first.Value != nil || first.Version != 1 || first.CreateRevision == 0 ||
		first.CreateRevision != first.ModRevision || !first.ExpiresAt.IsZero() {
		t.Fatalf("first put = %+v, want version 1, create = mod revision, no value, no expiry", first)
	}
	want := &KeyValue{Key: k, Value: []byte("one"), CreateRevision: first.CreateRevision, ModRevision: first.ModRevision, Version: 1}
	if diff := sameKV(mustGet(t, n, k), want); diff != "" {
		t.Fatalf("get after first put: %s", diff)
	}
	second := mustPut(t, n, k, []byte("two"))
	if second.Version != 2 || second.CreateRevision != first.CreateRevision || second.ModRevision <= first.ModRevision {
		t.Fatalf("second put = %+v after %+v, want version 2, same create revision, newer mod revision", second, first)
	}
	want = &KeyValue{Key: k, Value: []byte("two"), CreateRevision: first.CreateRevision, ModRevision: second.ModRevision, Version: 2}
	for _, level := range []Consistency{Leader, Strong, Eventual} {
		got, err := n.Get(testCtx(t), k, WithConsistency(level))
		if err != nil {
			t.Fatalf("get at %v: %v", level, err)
		}
		if diff := sameKV(got, want); diff != "" {
			t.Fatalf("get at %v: %s", level, diff)
		}
	}
	// An empty value is a value: the key exists and its Value is non-nil.
	empty := key(t, "empty")
	mustPut(t, n, empty, nil)
	if got := mustGet(t, n, empty); got.Value == nil || len(got.Value) != 0 {
		t.Fatalf("get of an empty value = %+v, want a non-nil empty Value", got)
	}
	// Keys are bytes: a key of MaxKeySize arbitrary bytes round-trips.
	long := bytes.Repeat([]byte{0, 0xff, '{', '}'}, n.cfg.Limits.MaxKeySize/4)
	mustPut(t, n, long, []byte("long"))
	if got := mustGet(t, n, long); !bytes.Equal(got.Key, long) || string(got.Value) != "long" {
		t.Fatalf("get of the longest key = %q", got.Value)
	}
	// The result does not alias the caller's key.
	buf := []byte(string(k))
	got, err := n.Get(testCtx(t), buf)
	if err != nil {
		t.Fatal(err)
	}
	buf[0] ^= 0xff
	if !bytes.Equal(got.Key, k) {
		t.Fatalf("KeyValue.Key aliases the caller's slice")
	}
}

func testDelete(t *testing.T, n *Node) {
	ctx := testCtx(t)
	k := key(t, "k")
	mustPut(t, n, k, []byte("v"))
	if err := n.Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMissing(t, n, k)
	wantErr(t, "delete of a missing key", n.Delete(ctx, k), ErrNotFound)
	// Written again, the key is new: version 1 and a new create revision.
	again := mustPut(t, n, k, []byte("w"))
	if again.Version != 1 || again.CreateRevision != again.ModRevision {
		t.Fatalf("put after delete = %+v, want a new key", again)
	}
}

func testDeadlines(t *testing.T, n *Node) {
	k := key(t, "k")
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	// A call whose deadline has passed reports it, as a timeout (outcome
	// unknown) or as unavailability (not sent, so not applied).
	_, err := n.Put(expired, k, []byte("v"))
	wantErr(t, "put with an expired deadline", err, context.DeadlineExceeded)
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrUnavailable) {
		t.Fatalf("put with an expired deadline: %v, want ErrTimeout or ErrUnavailable", err)
	}
	_, err = n.Get(expired, k)
	wantErr(t, "get with an expired deadline", err, context.DeadlineExceeded)
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrUnavailable) {
		t.Fatalf("get with an expired deadline: %v, want ErrTimeout or ErrUnavailable", err)
	}
	wantMissing(t, n, k)

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = n.Get(canceled, k)
	wantErr(t, "get with a canceled context", err, context.Canceled)
	if errors.Is(err, ErrTimeout) {
		t.Fatalf("a canceled call reports a timeout: %v", err)
	}

	// Without a deadline a call gets Config.RequestTimeout; with one, it
	// keeps it.
	start := time.Now()
	ctx, cancel := n.withDeadline(t.Context())
	defer cancel()
	dl, ok := ctx.Deadline()
	if !ok || dl.Before(start.Add(n.cfg.RequestTimeout)) || dl.After(time.Now().Add(n.cfg.RequestTimeout)) {
		t.Fatalf("deadline of a call without one = %v (%v), want RequestTimeout %v from now", dl, ok, n.cfg.RequestTimeout)
	}
	own, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	ctx, cancel = n.withDeadline(own)
	defer cancel()
	got, _ := ctx.Deadline()
	want, _ := own.Deadline()
	if !got.Equal(want) {
		t.Fatalf("the caller's deadline %v was replaced by %v", want, got)
	}
}

func testPutIf(t *testing.T, n *Node) {
	ctx := testCtx(t)
	k := key(t, "k")
	missing := key(t, "missing")

	created, err := n.PutIf(ctx, k, []byte("v1"), IfNotExists())
	if err != nil || created.Version != 1 {
		t.Fatalf("PutIf IfNotExists on a new key = %+v, %v", created, err)
	}
	_, err = n.PutIf(ctx, k, []byte("x"), IfNotExists())
	wantErr(t, "IfNotExists on an existing key", err, ErrConditionFailed)

	v2, err := n.PutIf(ctx, k, []byte("v2"), IfValue([]byte("v1")))
	if err != nil || v2.Version != 2 {
		t.Fatalf("PutIf IfValue(current) = %+v, %v", v2, err)
	}
	_, err = n.PutIf(ctx, k, []byte("x"), IfValue([]byte("v1")))
	wantErr(t, "IfValue(stale)", err, ErrConditionFailed)

	v3, err := n.PutIf(ctx, k, []byte("v3"), IfVersion(2))
	if err != nil || v3.Version != 3 {
		t.Fatalf("PutIf IfVersion(current) = %+v, %v", v3, err)
	}
	_, err = n.PutIf(ctx, k, []byte("x"), IfVersion(2))
	wantErr(t, "IfVersion(stale)", err, ErrConditionFailed)

	v4, err := n.PutIf(ctx, k, []byte("v4"), IfModRevision(v3.ModRevision))
	if err != nil {
		t.Fatalf("PutIf IfModRevision(current): %v", err)
	}
	_, err = n.PutIf(ctx, k, []byte("x"), IfModRevision(v3.ModRevision))
	wantErr(t, "IfModRevision(stale)", err, ErrConditionFailed)

	// Conditions combine with AND: one that fails fails the write.
	_, err = n.PutIf(ctx, k, []byte("x"), IfValue([]byte("v4")), IfVersion(3))
	wantErr(t, "IfValue(current) and IfVersion(stale)", err, ErrConditionFailed)
	v5, err := n.PutIf(ctx, k, []byte("v5"), IfExists(), IfValue([]byte("v4")), IfVersion(4), IfModRevision(v4.ModRevision), WithTTL(time.Hour))
	if err != nil || v5.ExpiresAt.IsZero() {
		t.Fatalf("PutIf with every condition holding and a TTL = %+v, %v", v5, err)
	}

	// A missing key fails every condition but IfNotExists.
	for _, cond := range []Option{IfExists(), IfValue(nil), IfVersion(1), IfModRevision(v5.ModRevision)} {
		_, err = n.PutIf(ctx, missing, []byte("x"), cond)
		wantErr(t, "condition on a missing key", err, ErrConditionFailed)
	}
	wantMissing(t, n, missing)
	got := mustGet(t, n, k)
	if string(got.Value) != "v5" || got.Version != 5 || got.ModRevision != v5.ModRevision {
		t.Fatalf("after the failed conditions, key = %+v, want v5 at version 5", got)
	}
}

func testDeleteIf(t *testing.T, n *Node) {
	ctx := testCtx(t)
	lock := key(t, "lock")
	meta := mustPut(t, n, lock, []byte("owner-1"))
	wantErr(t, "release by another owner", n.DeleteIf(ctx, lock, IfValue([]byte("owner-2"))), ErrConditionFailed)
	wantErr(t, "stale version", n.DeleteIf(ctx, lock, IfVersion(2)), ErrConditionFailed)
	wantErr(t, "stale mod revision", n.DeleteIf(ctx, lock, IfModRevision(meta.ModRevision+1)), ErrConditionFailed)
	if got := mustGet(t, n, lock); string(got.Value) != "owner-1" {
		t.Fatalf("a failed DeleteIf changed the key: %+v", got)
	}
	if err := n.DeleteIf(ctx, lock, IfValue([]byte("owner-1")), IfVersion(1), IfModRevision(meta.ModRevision)); err != nil {
		t.Fatalf("release by the owner: %v", err)
	}
	wantMissing(t, n, lock)
	wantErr(t, "release of a free lock", n.DeleteIf(ctx, lock, IfExists()), ErrConditionFailed)
}

// testCASRace lets goroutines race to replace the same version of a key,
// and to create the same key: exactly one of each race wins.
func testCASRace(t *testing.T, n *Node) {
	const racers = 8
	k := key(t, "k")
	mustPut(t, n, k, []byte("start"))
	fresh := key(t, "fresh")
	type outcome struct {
		err error
		i   int
	}
	race := func(write func(ctx context.Context, i int) error) (winner int) {
		out := make(chan outcome, racers)
		ctx := testCtx(t)
		for i := range racers {
			go func() { out <- outcome{write(ctx, i), i} }()
		}
		winner = -1
		for range racers {
			o := <-out
			switch {
			case o.err == nil && winner >= 0:
				t.Errorf("racers %d and %d both won", winner, o.i)
			case o.err == nil:
				winner = o.i
			case !errors.Is(o.err, ErrConditionFailed):
				t.Errorf("racer %d: %v, want ErrConditionFailed", o.i, o.err)
			}
		}
		if winner < 0 {
			t.Fatalf("nobody won")
		}
		return winner
	}
	w := race(func(ctx context.Context, i int) error {
		_, err := n.PutIf(ctx, k, []byte(fmt.Sprint(i)), IfVersion(1))
		return err
	})
	if got := mustGet(t, n, k); string(got.Value) != fmt.Sprint(w) || got.Version != 2 {
		t.Fatalf("after the race won by %d the key is %+v", w, got)
	}
	w = race(func(ctx context.Context, i int) error {
		_, err := n.PutIf(ctx, fresh, []byte(fmt.Sprint(i)), IfNotExists())
		return err
	})
	if got := mustGet(t, n, fresh); string(got.Value) != fmt.Sprint(w) || got.Version != 1 {
		t.Fatalf("after the create race won by %d the key is %+v", w, got)
	}
	race(func(ctx context.Context, i int) error {
		return n.DeleteIf(ctx, fresh, IfExists())
	})
	wantMissing(t, n, fresh)
}

// testCASCounter increments a counter from several goroutines with
// read-modify-write loops guarded by the mod revision: no increment may be
// lost.
func testCASCounter(t *testing.T, n *Node) {
	const workers, each = 4, 5
	k := key(t, "counter")
	mustPut(t, n, k, []byte("0"))
	done := make(chan error, workers)
	ctx := testCtx(t)
	for range workers {
		go func() {
			for range each {
				for {
					cur, err := n.Get(ctx, k, WithConsistency(Strong))
					if err != nil {
						done <- err
						return
					}
					v, err := strconv.Atoi(string(cur.Value))
					if err != nil {
						done <- err
						return
					}
					_, err = n.PutIf(ctx, k, []byte(fmt.Sprint(v+1)), IfModRevision(cur.ModRevision))
					if err == nil {
						break
					}
					if !errors.Is(err, ErrConditionFailed) {
						done <- err
						return
					}
				}
			}
			done <- nil
		}()
	}
	for range workers {
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	if got := mustGet(t, n, k); string(got.Value) != fmt.Sprint(workers*each) || got.Version != workers*each+1 {
		t.Fatalf("counter = %q at version %d, want %d at version %d", got.Value, got.Version, workers*each, workers*each+1)
	}
}

func testTTLAndTouch(t *testing.T, n *Node) {
	ctx := testCtx(t)
	k := key(t, "k")
	start := time.Now()
	meta := mustPut(t, n, k, []byte("v"), WithTTL(time.Hour))
	// ExpiresAt is stamped by the leader, this process: an hour after the
	// write, which happened between start and now.
	if meta.ExpiresAt.Before(start.Add(time.Hour)) || meta.ExpiresAt.After(time.Now().Add(time.Hour)) {
		t.Fatalf("ExpiresAt = %v, want an hour after the write (between %v and now)", meta.ExpiresAt, start)
	}
	ttl, err := n.TTL(ctx, k)
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("TTL = %v, %v; want in (0, 1h]", ttl, err)
	}
	if got := mustGet(t, n, k); !got.ExpiresAt.Equal(meta.ExpiresAt) {
		t.Fatalf("Get ExpiresAt = %v, Put wrote %v", got.ExpiresAt, meta.ExpiresAt)
	}

	// Touch moves the expiry and counts as a write; the value stays.
	touched, err := n.Touch(ctx, k, 2*time.Hour)
	if err != nil || touched.Version != 2 || touched.ModRevision <= meta.ModRevision || !touched.ExpiresAt.After(meta.ExpiresAt) {
		t.Fatalf("Touch = %+v, %v after %+v", touched, err, meta)
	}
	if got := mustGet(t, n, k); string(got.Value) != "v" || !got.ExpiresAt.Equal(touched.ExpiresAt) {
		t.Fatalf("after Touch: %+v", got)
	}
	// Touch with 0 removes the expiry.
	if persisted, err := n.Touch(ctx, k, 0); err != nil || !persisted.ExpiresAt.IsZero() {
		t.Fatalf("Touch 0 = %+v, %v", persisted, err)
	}
	if ttl, err := n.TTL(ctx, k); err != nil || ttl != 0 {
		t.Fatalf("TTL of a key without expiry = %v, %v; want 0", ttl, err)
	}
	// A put without TTL options clears an expiry.
	mustPut(t, n, k, []byte("v"), WithTTL(time.Hour))
	if cleared := mustPut(t, n, k, []byte("w")); !cleared.ExpiresAt.IsZero() {
		t.Fatalf("plain Put kept the expiry: %+v", cleared)
	}

	missing := key(t, "missing")
	_, err = n.Touch(ctx, missing, time.Hour)
	wantErr(t, "touch of a missing key", err, ErrNotFound)
	_, err = n.TTL(ctx, missing)
	wantErr(t, "ttl of a missing key", err, ErrNotFound)
	wantMissing(t, n, missing)
}

func testKeepTTL(t *testing.T, n *Node) {
	k := key(t, "k")
	first := mustPut(t, n, k, []byte("v1"), WithTTL(time.Hour))
	kept := mustPut(t, n, k, []byte("v2"), WithKeepTTL())
	if !kept.ExpiresAt.Equal(first.ExpiresAt) || kept.Version != 2 {
		t.Fatalf("WithKeepTTL = %+v, want the expiry of %+v", kept, first)
	}
	// A new key has no expiry to keep.
	fresh := mustPut(t, n, key(t, "fresh"), []byte("v"), WithKeepTTL())
	if !fresh.ExpiresAt.IsZero() {
		t.Fatalf("WithKeepTTL on a new key = %+v, want no expiry", fresh)
	}
	// PutIf takes TTL options too.
	cas, err := n.PutIf(testCtx(t), k, []byte("v3"), IfVersion(2), WithKeepTTL())
	if err != nil || !cas.ExpiresAt.Equal(first.ExpiresAt) {
		t.Fatalf("PutIf WithKeepTTL = %+v, %v", cas, err)
	}
}

// testExpiry waits for keys to expire and checks that every operation
// then treats them as absent.
func testExpiry(t *testing.T, n *Node) {
	ctx := testCtx(t)
	k := key(t, "k")
	other := key(t, "other")
	old := mustPut(t, n, k, []byte("v"), WithTTL(time.Hour))
	mustPut(t, n, other, []byte("v"), WithTTL(time.Hour))
	// Shorten the lives by touch, so that the puts above could be checked
	// at leisure.
	if _, err := n.Touch(ctx, k, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if errs, err := n.TouchMany(ctx, []TouchItem{{Key: other, TTL: 100 * time.Millisecond}}); err != nil || errs[0] != nil {
		t.Fatalf("TouchMany: %v %v", errs, err)
	}
	await.Until(t, 10*time.Second, "keys expire", func() error {
		for _, ek := range [][]byte{k, other} {
			if _, err := n.Get(ctx, ek); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("get %q: %v", ek, err)
			}
		}
		return nil
	})
	_, err := n.TTL(ctx, k)
	wantErr(t, "ttl of an expired key", err, ErrNotFound)
	_, err = n.Touch(ctx, k, time.Hour)
	wantErr(t, "touch of an expired key", err, ErrNotFound)
	_, err = n.PutIf(ctx, k, []byte("x"), IfValue([]byte("v")))
	wantErr(t, "put_if on an expired key", err, ErrConditionFailed)
	if got, err := n.GetMany(ctx, [][]byte{k, other}); err != nil || got[0] != nil || got[1] != nil {
		t.Fatalf("GetMany of expired keys = %v, %v", got, err)
	}
	// An expired key is created anew.
	again, err := n.PutIf(ctx, k, []byte("again"), IfNotExists())
	if err != nil || again.Version != 1 || again.CreateRevision <= old.CreateRevision {
		t.Fatalf("PutIf IfNotExists on an expired key = %+v, %v", again, err)
	}
}

func testPutManyGetMany(t *testing.T, n *Node) {
	ctx := testCtx(t)
	a, b, c, missing := key(t, "a"), key(t, "b"), key(t, "c"), key(t, "missing")
	start := time.Now()
	errs, err := n.PutMany(ctx, []PutItem{
		{Key: a, Value: []byte("A")},
		{Key: b, Value: []byte("B"), TTL: time.Hour},
		{Key: c, Value: []byte("C")},
	}, WithTTL(2*time.Hour))
	if err != nil || len(errs) != 3 || errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("PutMany = %v, %v", errs, err)
	}
	got, err := n.GetMany(ctx, [][]byte{a, missing, c, b, a})
	if err != nil || len(got) != 5 {
		t.Fatalf("GetMany = %v, %v", got, err)
	}
	for i, want := range []string{"A", "", "C", "B", "A"} {
		switch {
		case want == "" && got[i] != nil:
			t.Errorf("GetMany[%d] = %+v, want nil", i, got[i])
		case want != "" && (got[i] == nil || string(got[i].Value) != want):
			t.Errorf("GetMany[%d] = %+v, want %q", i, got[i], want)
		}
	}
	// The bulk put was one command: one revision for all its keys.
	if got[0].ModRevision != got[2].ModRevision || got[0].ModRevision != got[3].ModRevision {
		t.Errorf("one-range PutMany wrote revisions %d, %d, %d", got[0].ModRevision, got[2].ModRevision, got[3].ModRevision)
	}
	// An item's own TTL overrides the call's.
	if exp := got[3].ExpiresAt; exp.Before(start.Add(time.Hour)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("item with its own TTL expires at %v", exp)
	}
	if exp := got[0].ExpiresAt; exp.Before(start.Add(2 * time.Hour)) {
		t.Errorf("item with the call's TTL expires at %v", exp)
	}
	// Items run in order: the later write of a key wins.
	errs, err = n.PutMany(ctx, []PutItem{{Key: a, Value: []byte("A1")}, {Key: a, Value: []byte("A2")}}, WithKeepTTL())
	if err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatalf("PutMany of one key twice = %v, %v", errs, err)
	}
	if kv := mustGet(t, n, a); string(kv.Value) != "A2" || kv.Version != 3 || !kv.ExpiresAt.Equal(got[0].ExpiresAt) {
		t.Fatalf("after two writes in one PutMany (keeping the TTL): %+v", kv)
	}
}

func testDeleteManyTouchMany(t *testing.T, n *Node) {
	ctx := testCtx(t)
	a, b, c, missing := key(t, "a"), key(t, "b"), key(t, "c"), key(t, "missing")
	for _, k := range [][]byte{a, b, c} {
		mustPut(t, n, k, []byte("v"), WithTTL(time.Hour))
	}
	errs, err := n.TouchMany(ctx, []TouchItem{{Key: c, TTL: 0}, {Key: missing, TTL: time.Hour}, {Key: b, TTL: 3 * time.Hour}})
	if err != nil || len(errs) != 3 || errs[0] != nil || !errors.Is(errs[1], ErrNotFound) || errs[2] != nil {
		t.Fatalf("TouchMany = %v, %v; want [nil, ErrNotFound, nil]", errs, err)
	}
	if kv := mustGet(t, n, c); !kv.ExpiresAt.IsZero() || kv.Version != 2 {
		t.Fatalf("touched to 0: %+v", kv)
	}
	if ttl, err := n.TTL(ctx, b); err != nil || ttl <= time.Hour {
		t.Fatalf("touched to 3h: TTL %v, %v", ttl, err)
	}
	wantMissing(t, n, missing)

	errs, err = n.DeleteMany(ctx, [][]byte{a, missing, b})
	if err != nil || len(errs) != 3 || errs[0] != nil || !errors.Is(errs[1], ErrNotFound) || errs[2] != nil {
		t.Fatalf("DeleteMany = %v, %v; want [nil, ErrNotFound, nil]", errs, err)
	}
	wantMissing(t, n, a)
	wantMissing(t, n, b)
	if kv := mustGet(t, n, c); string(kv.Value) != "v" {
		t.Fatalf("DeleteMany removed a key it was not given: %+v", kv)
	}
}

// testFullBatch writes and reads a batch of exactly the limit.
func testFullBatch(t *testing.T, n *Node) {
	ctx := testCtx(t)
	limit := n.cfg.Limits.MaxBatchItems
	items := make([]PutItem, limit)
	keys := make([][]byte, limit)
	for i := range items {
		keys[i] = key(t, fmt.Sprint(i))
		items[i] = PutItem{Key: keys[i], Value: []byte(fmt.Sprint(i))}
	}
	errs, err := n.PutMany(ctx, items)
	if err != nil || len(errs) != limit {
		t.Fatalf("PutMany of %d items: %d errors, %v", limit, len(errs), err)
	}
	for i, e := range errs {
		if e != nil {
			t.Fatalf("item %d: %v", i, e)
		}
	}
	got, err := n.GetMany(ctx, keys, WithConsistency(Strong))
	if err != nil {
		t.Fatal(err)
	}
	for i, kv := range got {
		if kv == nil || string(kv.Value) != fmt.Sprint(i) {
			t.Fatalf("GetMany[%d] = %+v", i, kv)
		}
	}
	errs, err = n.DeleteMany(ctx, keys)
	if err != nil || errs[limit-1] != nil {
		t.Fatalf("DeleteMany of %d keys: %v", limit, err)
	}
	wantMissing(t, n, keys[limit-1])
}

// After Close every method reports ErrClosed, at once rather than at its
// deadline.
func TestKVAfterClose(t *testing.T) {
	n, _ := openKVTestNode(t)
	k := []byte("k")
	mustPut(t, n, k, []byte("v"))
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := testCtx(t)
	calls := map[string]func() error{
		"put":          func() error { _, err := n.Put(ctx, k, []byte("w")); return err },
		"put_if":       func() error { _, err := n.PutIf(ctx, k, []byte("w"), IfExists()); return err },
		"get":          func() error { _, err := n.Get(ctx, k); return err },
		"get eventual": func() error { _, err := n.Get(ctx, k, WithConsistency(Eventual)); return err },
		"ttl":          func() error { _, err := n.TTL(ctx, k); return err },
		"delete":       func() error { return n.Delete(ctx, k) },
		"delete_if":    func() error { return n.DeleteIf(ctx, k, IfExists()) },
		"touch":        func() error { _, err := n.Touch(ctx, k, time.Hour); return err },
		"put_many":     func() error { _, err := n.PutMany(ctx, []PutItem{{Key: k}}); return err },
		"get_many":     func() error { _, err := n.GetMany(ctx, [][]byte{k}); return err },
		"delete_many":  func() error { _, err := n.DeleteMany(ctx, [][]byte{k}); return err },
		"touch_many":   func() error { _, err := n.TouchMany(ctx, []TouchItem{{Key: k}}); return err },
		"txn":          func() error { _, err := n.Txn(ctx, Txn{Then: []Op{OpGet(k)}}); return err },
		"scan":         func() error { _, _, err := n.Scan(ctx, nil, 0); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}
