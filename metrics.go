package concord

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewMetricsRegistry returns a Prometheus registry holding the Go runtime
// and process collectors, ready to be a Config.Registerer: the node adds
// its own metrics (router, Raft, ring, placement) to it. A node whose
// Config.Registerer is nil gets one of these. Each node needs a registry
// of its own: registering a second node's metrics on it fails.
func NewMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	registerRuntimeCollectors(reg)
	return reg
}

// registerRuntimeCollectors adds the Go runtime (goroutines, heap, GC) and
// process (CPU, memory, file descriptors) collectors to reg.
func registerRuntimeCollectors(reg prometheus.Registerer) {
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

// Gatherer returns what to serve on /metrics (with promhttp.HandlerFor):
// the node's registry, or nil when Config.Registerer was set to a
// Registerer that cannot be gathered from, in which case its owner serves
// it.
func (n *Node) Gatherer() prometheus.Gatherer {
	g, _ := n.cfg.Registerer.(prometheus.Gatherer)
	return g
}
