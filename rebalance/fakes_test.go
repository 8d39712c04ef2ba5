package rebalance

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/rangegroup"
)

// fakeStore serves a fixed set of ranges and records the calls made to
// it; split, change and transfer decide each call's outcome.
type fakeStore struct {
	mu       sync.Mutex
	ranges   []rangegroup.RangeInfo
	calls    []string
	split    func(ctx context.Context) error
	change   func(ctx context.Context) error
	transfer func(ctx context.Context) error
}

func (f *fakeStore) Ranges() []rangegroup.RangeInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]rangegroup.RangeInfo(nil), f.ranges...)
}

func (f *fakeStore) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeStore) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func orNil(fn func(context.Context) error, ctx context.Context) error {
	if fn == nil {
		return nil
	}
	return fn(ctx)
}

func (f *fakeStore) Split(ctx context.Context, rangeID, at uint64) (uint64, error) {
	f.record(fmt.Sprintf("split %d at %d", rangeID, at))
	return 99, orNil(f.split, ctx)
}

func (f *fakeStore) ChangeReplicas(ctx context.Context, rangeID uint64, changes []rangegroup.ReplicaChange) error {
	f.record(fmt.Sprintf("change %d %s", rangeID, changesString(changes)))
	return orNil(f.change, ctx)
}

func (f *fakeStore) TransferLeadership(ctx context.Context, rangeID uint64, node string) error {
	f.record(fmt.Sprintf("transfer %d to %s", rangeID, node))
	return orNil(f.transfer, ctx)
}

func (f *fakeStore) Merge(ctx context.Context, lhs, rhs uint64) error {
	f.record(fmt.Sprintf("merge %d into %d", rhs, lhs))
	return nil
}

func (f *fakeStore) AbortMerge(ctx context.Context, lhs, rhs uint64) error {
	f.record(fmt.Sprintf("abort merge of %d into %d", rhs, lhs))
	return nil
}

// fakeView is a View the test edits.
type fakeView struct {
	mu      sync.Mutex
	members []Member
}

func (v *fakeView) Members() []Member {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Member(nil), v.members...)
}

func (v *fakeView) set(ms ...Member) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.members = ms
}

func (v *fakeView) update(name string, edit func(*Member)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range v.members {
		if v.members[i].Name == name {
			edit(&v.members[i])
		}
	}
}

// metricValue reads one metric's value from a registry.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
