package rebalance

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the rebalancer's Prometheus instruments. They exist (and
// count) whether or not they are registered anywhere.
type metrics struct {
	actions        *prometheus.CounterVec
	passes         prometheus.Counter
	rangesLed      prometheus.Gauge
	outOfPlacement prometheus.Gauge
	snapshots      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "concord", "rebalance"
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "actions_total",
			Help: "Placement actions taken by this node's leaders, by kind and result (ok or error)."}, []string{"kind", "result"}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "passes_total",
			Help: "Passes over this node's ranges."}),
		rangesLed:      gauge("ranges_led", "Initialized ranges this node leads, as of the last pass."),
		outOfPlacement: gauge("ranges_out_of_placement", "Ranges this node leads that do not match the placement rule, as of the last pass."),
		snapshots:      gauge("snapshots_in_progress", "Learners this node's leaders are catching up, as of the last pass."),
	}
	if reg != nil {
		cs := []prometheus.Collector{m.actions, m.passes, m.rangesLed, m.outOfPlacement, m.snapshots}
		for i, c := range cs {
			if err := reg.Register(c); err != nil {
				// Leave the registry as it was, so a retry can succeed.
				for _, done := range cs[:i] {
					reg.Unregister(done)
				}
				return nil, fmt.Errorf("rebalance: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
