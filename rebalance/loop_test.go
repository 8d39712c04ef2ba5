package rebalance

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/storage/storagepb"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	store, view := &fakeStore{}, &fakeView{}
	for _, cfg := range []Config{
		{Store: store, View: view},
		{Self: "n1", View: view},
		{Self: "n1", Store: store},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v): err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	r, err := New(Config{Self: "n1", Store: store, View: view})
	if err != nil {
		t.Fatal(err)
	}
	c := r.cfg
	if c.Replicas != 3 || c.Grace != 30*time.Second || c.Interval != time.Second || c.MaxConcurrentSnapshots != 2 ||
		c.ActionTimeout != DefaultActionTimeout || c.CatchUpLag != DefaultCatchUpLag || c.Now == nil || c.Logger == nil {
		t.Fatalf("defaults not applied: %+v", c)
	}
	// A registry can hold one rebalancer's metrics; a second is refused
	// and leaves the registry as it was.
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Self: "n1", Store: store, View: view, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Self: "n1", Store: store, View: view, Registerer: reg}); err == nil {
		t.Fatal("second registration succeeded")
	}
	r.Stop() // never started: returns at once
	r.Stop()
	r.Start() // after Stop: does nothing
}

func TestTriggerNeverBlocks(t *testing.T) {
	t.Parallel()
	r, err := New(Config{Self: "n1", Store: &fakeStore{}, View: &fakeView{}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			r.Trigger()
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Trigger blocked without a running loop")
	}
}

// TestFailedActionsBackOff: a failing action is counted as an error and
// not retried by the passes triggers cause within Interval of the failure
// (no spinning); once Interval has passed, the next pass retries it.
func TestFailedActionsBackOff(t *testing.T) {
	t.Parallel()
	store := &fakeStore{
		ranges: []rangegroup.RangeInfo{rangeLedBy("n1", 100, 100, "n1")},
		split:  func(context.Context) error { return rangegroup.ErrUnavailable },
	}
	view := &fakeView{}
	view.set(alive("n1", 100), alive("n2", 200))
	reg := prometheus.NewRegistry()
	r, err := New(Config{Self: "n1", Store: store, View: view, Interval: time.Hour, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	failures := func() float64 {
		return metricValue(t, reg, "concord_rebalance_actions_total", map[string]string{"kind": "split", "result": "error"})
	}
	r.Start()
	defer r.Stop()
	await.Until(t, 10*time.Second, "the first attempt fails", func() error {
		if got := failures(); got != 1 {
			return fmt.Errorf("%v failures", got)
		}
		return nil
	})
	passes := r.passes.Load()
	await.Until(t, 10*time.Second, "three triggered passes", func() error {
		r.Trigger()
		if got := r.passes.Load(); got < passes+3 {
			return fmt.Errorf("%d passes", got-passes)
		}
		return nil
	})
	if calls := store.callCount(); calls != 1 {
		t.Fatalf("%d split attempts within the interval after a failure, want 1", calls)
	}
	// The interval has passed (as far as the range's state knows).
	r.mu.Lock()
	r.ranges[7].failedAt = time.Now().Add(-2 * time.Hour)
	r.mu.Unlock()
	r.Trigger()
	await.Until(t, 10*time.Second, "the retry fails", func() error {
		if got := failures(); got != 2 {
			return fmt.Errorf("%v failures", got)
		}
		return nil
	})
	if calls := store.callCount(); calls != 2 {
		t.Fatalf("%d split attempts, want 2", calls)
	}
	if got := metricValue(t, reg, "concord_rebalance_ranges_out_of_placement", nil); got != 1 {
		t.Fatalf("ranges_out_of_placement = %v, want 1", got)
	}
	if got := metricValue(t, reg, "concord_rebalance_ranges_led", nil); got != 1 {
		t.Fatalf("ranges_led = %v, want 1", got)
	}
}

// TestStopCancelsInFlightActions: Stop returns while an action is blocked
// in the Store, because the action's context is cancelled.
func TestStopCancelsInFlightActions(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	ended := make(chan error, 1)
	store := &fakeStore{
		ranges: []rangegroup.RangeInfo{rangeLedBy("n2", 100, 200, "n2", "n3")},
		change: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			ended <- ctx.Err()
			return ctx.Err()
		},
	}
	view := &fakeView{}
	view.set(alive("n1", 100), alive("n2", 200), alive("n3", 300), alive("n4", 400))
	r, err := New(Config{Self: "n2", Store: store, View: view, ActionTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no action started")
	}
	r.Stop()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("action ended with %v, want context.Canceled", err)
		}
	default:
		t.Fatal("Stop returned before the action ended")
	}
}

// TestJointChangeHoldsRange: after a promotion that also removes a voter
// (a joint change) the range is left alone until Raft has left the joint
// configuration, which shows as a second generation bump; and leadership
// is not transferred right after a replica change.
func TestJointChangeHoldsRange(t *testing.T) {
	t.Parallel()
	info := rangeLedBy("n2", 100, 200, "n1", "n2", "n3", "n4:L+")
	store := &fakeStore{ranges: []rangegroup.RangeInfo{info}}
	view := &fakeView{}
	view.set(alive("n1", 100), alive("n2", 200), alive("n3", 300), alive("n4", 400))
	r, err := New(Config{Self: "n2", Store: store, View: view, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r.pass(t.Context())
	r.actions.Wait()
	if got := fmt.Sprint(store.calls); got != "[change 7 ^n4 -n1]" {
		t.Fatalf("calls %s", got)
	}
	gen := info.Descriptor.Generation
	for _, tc := range []struct {
		gen  uint64
		held bool
	}{{gen, true}, {gen + 1, true}, {gen + 2, false}, {gen + 1, false}} {
		i := info
		i.Descriptor = proto.Clone(info.Descriptor).(*storagepb.RangeDescriptor)
		i.Descriptor.Generation = tc.gen
		if got := r.heldSince(r.epoch())(i); got != tc.held {
			t.Fatalf("generation %d: held = %v, want %v", tc.gen, got, tc.held)
		}
	}
	// Leadership does not move right after a replica change.
	if !r.settling(7) {
		t.Fatal("range 7 not settling right after a replica change")
	}
	r.mu.Lock()
	r.ranges[7].changedAt = time.Now().Add(-2 * time.Hour)
	r.ranges[8] = &rangeState{jointGen: 100, jointUntil: time.Now().Add(-time.Second)}
	r.mu.Unlock()
	if r.settling(7) {
		t.Fatal("range 7 still settling an interval after its change")
	}
	// A hold whose generation never comes (leadership moved away) expires,
	// and idle state is forgotten.
	r.forget(nil, r.epoch())
	r.mu.Lock()
	n := len(r.ranges)
	r.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d range states kept, want none", n)
	}
}

// TestTransferWaitsForSettle: a transfer planned right after a replica
// change of the same range is put off to a later pass.
func TestTransferWaitsForSettle(t *testing.T) {
	t.Parallel()
	store := &fakeStore{ranges: []rangegroup.RangeInfo{rangeLedBy("n3", 100, 200, "n2", "n3", "n4")}}
	view := &fakeView{}
	view.set(alive("n1", 100), alive("n2", 200), alive("n3", 300), alive("n4", 400))
	r, err := New(Config{Self: "n3", Store: store, View: view, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.stateLocked(7).changedAt = time.Now()
	r.mu.Unlock()
	r.pass(t.Context())
	r.actions.Wait()
	if n := store.callCount(); n != 0 {
		t.Fatalf("%d calls while settling: %v", n, store.calls)
	}
	r.mu.Lock()
	r.stateLocked(7).changedAt = time.Time{}
	r.mu.Unlock()
	r.pass(t.Context())
	r.actions.Wait()
	if got := fmt.Sprint(store.calls); got != "[transfer 7 to n2]" {
		t.Fatalf("calls %s, want the transfer", got)
	}
}

// TestMembersStandsInDownSince: a dead member without DownSince gets the
// time the rebalancer first saw it dead, so its grace period still runs.
func TestMembersStandsInDownSince(t *testing.T) {
	t.Parallel()
	view := &fakeView{}
	view.set(alive("n1", 100), Member{Name: "n2", ID: 200})
	r, err := New(Config{Self: "n1", Store: &fakeStore{}, View: view, Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	first := r.members(t0)
	later := r.members(t0.Add(time.Hour))
	if !first[1].DownSince.Equal(t0) || !later[1].DownSince.Equal(t0) {
		t.Fatalf("DownSince = %v then %v, want %v both times", first[1].DownSince, later[1].DownSince, t0)
	}
	if !first[1].Present(t0.Add(30*time.Second), time.Minute) || later[1].Present(t0.Add(time.Hour), time.Minute) {
		t.Fatal("grace not counted from the first sighting")
	}
	// Back alive, then dead again: the clock restarts.
	view.update("n2", func(m *Member) { m.Alive = true })
	r.members(t0.Add(2 * time.Hour))
	view.update("n2", func(m *Member) { m.Alive = false })
	if got := r.members(t0.Add(3 * time.Hour))[1].DownSince; !got.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("DownSince after a restart = %v", got)
	}
}
