package ring

import (
	"github.com/prometheus/client_golang/prometheus"
)

// hopBuckets bound the lookup path lengths the histogram tells apart. A
// stable ring of N nodes needs about ½·log2(N) hops, so single steps matter
// up to a few thousand nodes; longer paths mean stale fingers.
var hopBuckets = []float64{0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32}

// The counters mirror Stats. They are read from the node's atomic counters
// at scrape time, so the protocol code counts in exactly one place and the
// Prometheus view can never drift from Stats.
var (
	descStabilize = prometheus.NewDesc("concord_ring_stabilization_rounds_total",
		"Completed stabilization rounds.", nil, nil)
	descSuccessor = prometheus.NewDesc("concord_ring_successor_changes_total",
		"Times the first successor changed.", nil, nil)
	descPredecessor = prometheus.NewDesc("concord_ring_predecessor_changes_total",
		"Times a new predecessor was adopted.", nil, nil)
	descFingers = prometheus.NewDesc("concord_ring_fingers_fixed_total",
		"Finger table entries set to a new owner by finger refreshes.", nil, nil)
	descLookups = prometheus.NewDesc("concord_ring_lookups_total",
		"Lookups started by this node, including finger refreshes that needed one.", nil, nil)
	descLookupFailures = prometheus.NewDesc("concord_ring_lookup_failures_total",
		"Lookups that found no owner.", nil, nil)
	descSuccessors = prometheus.NewDesc("concord_ring_successors",
		"Length of the successor list.", nil, nil)
	descMember = prometheus.NewDesc("concord_ring_member",
		"1 while the node is a ring member, 0 otherwise.", nil, nil)
)

// newHopsHistogram is the histogram of remote hops per lookup. It exists
// (and observes) whether or not Config.Registerer is set.
func newHopsHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "concord_ring_lookup_hops",
		Help:    "Remote nodes asked per lookup started by this node (0: answered from its own successor list).",
		Buckets: hopBuckets,
	})
}

// collector exposes one Node's ring metrics. It is registered by Start and
// unregistered by Stop, so a registry can outlive the node.
type collector struct{ n *Node }

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	c.n.hops.Describe(ch)
	for _, d := range []*prometheus.Desc{descStabilize, descSuccessor, descPredecessor, descFingers,
		descLookups, descLookupFailures, descSuccessors, descMember} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.n.hops.Collect(ch)
	s := c.n.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descStabilize, s.StabilizeRounds)
	counter(descSuccessor, s.SuccessorChanges)
	counter(descPredecessor, s.PredecessorChanges)
	counter(descFingers, s.FingersFixed)
	counter(descLookups, s.Lookups)
	counter(descLookupFailures, s.LookupFailures)
	member := 0.0
	if c.n.IsMember() {
		member = 1
	}
	ch <- prometheus.MustNewConstMetric(descSuccessors, prometheus.GaugeValue, float64(len(c.n.Successors())))
	ch <- prometheus.MustNewConstMetric(descMember, prometheus.GaugeValue, member)
}
