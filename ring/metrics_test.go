package ring_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/concord-kv/concord/internal/await"
	. "github.com/concord-kv/concord/ring"
)

// sample returns the value of a counter or gauge, or the sample count of a
// histogram, named name in reg; an error when reg does not have it.
func sample(reg prometheus.Gatherer, name string) (float64, error) {
	families, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() != name || len(f.GetMetric()) != 1 {
			continue
		}
		m := f.GetMetric()[0]
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), nil
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), nil
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount()), nil
		}
	}
	return 0, fmt.Errorf("%s not registered", name)
}

func TestMetricsCountRingActivity(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	regs := map[string]*prometheus.Registry{}
	r.grow(3, func(c *Config) {
		reg := prometheus.NewRegistry()
		regs[c.Name] = reg
		c.Registerer = reg
	})
	await.Until(t, 20*time.Second, "ideal ring", func() error { return idealError(r.nodes) })

	// Every node joined or created the ring and then stabilized it: each
	// adopted a successor and a predecessor and pointed fingers at peers.
	for name, reg := range regs {
		for _, metric := range []string{
			"concord_ring_stabilization_rounds_total",
			"concord_ring_successor_changes_total",
			"concord_ring_predecessor_changes_total",
			"concord_ring_fingers_fixed_total",
		} {
			await.Until(t, 20*time.Second, name+" "+metric, func() error {
				v, err := sample(reg, metric)
				if err == nil && v == 0 {
					err = fmt.Errorf("%s is still 0", metric)
				}
				return err
			})
		}
		if v, err := sample(reg, "concord_ring_member"); err != nil || v != 1 {
			t.Fatalf("%s: concord_ring_member = %v, %v; want 1", name, v, err)
		}
		if v, err := sample(reg, "concord_ring_successors"); err != nil || v != 2 {
			t.Fatalf("%s: concord_ring_successors = %v, %v; want 2", name, v, err)
		}
	}

	// Lookups observe their hop counts, one sample each.
	n := r.nodes[0]
	reg := regs[n.Name()]
	before, err := sample(reg, "concord_ring_lookup_hops")
	if err != nil {
		t.Fatal(err)
	}
	const lookups = 20
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range lookups {
		if _, err := n.LookupID(ctx, uint64(i)<<58); err != nil {
			t.Fatal(err)
		}
	}
	after, err := sample(reg, "concord_ring_lookup_hops")
	if err != nil {
		t.Fatal(err)
	}
	// Background finger refreshes may run lookups too, never fewer.
	if after-before < lookups {
		t.Fatalf("lookup hops histogram gained %v samples over %d lookups", after-before, lookups)
	}

	// A stopped node takes its metrics off the registry, so the registry
	// can serve a restarted node.
	n.Stop()
	if count, err := testutil.GatherAndCount(reg); err != nil || count != 0 {
		t.Fatalf("after Stop the registry has %d metrics (%v), want 0", count, err)
	}
}

func TestMetricsRegistrationConflict(t *testing.T) {
	t.Parallel()
	r := newTestRing(t)
	reg := prometheus.NewRegistry()
	r.add(0, func(c *Config) { c.Registerer = reg })
	second := New(Config{Name: "other", BindAddr: hostIP(1) + ":7000", Network: r.net.Host(hostIP(1)), Registerer: reg})
	t.Cleanup(second.Stop)
	if err := second.Start(); err == nil {
		t.Fatal("a second node registered on the same registry started; want an error")
	}
}
