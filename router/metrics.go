package router

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the router's Prometheus instruments. They exist (and count)
// whether or not they are registered anywhere.
type metrics struct {
	// requests counts calls of the public API by operation and outcome;
	// latency times them.
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// retries counts attempts after the first, by what prompted them.
	retries *prometheus.CounterVec
	// forwards counts attempts by where they went: this node's Store or
	// another node.
	forwards *prometheus.CounterVec
	// cache counts descriptor cache lookups by result.
	cache *prometheus.CounterVec
	// served counts requests this node's Store served (for itself or for
	// another node), by kind: write, or the read's consistency level.
	served *prometheus.CounterVec
}

// Label values.
const (
	outcomeOK          = "ok"
	outcomeInvalid     = "invalid"
	outcomeTimeout     = "timeout"
	outcomeUnavailable = "unavailable"
	outcomeCanceled    = "canceled"
	outcomePartial     = "partial"
	outcomeError       = "error"

	retryNotLeader      = "not_leader"
	retryMismatch       = "range_mismatch"
	retryNotFound       = "range_not_found"
	retryUnreachable    = "unreachable"
	retryUnavailable    = "unavailable"
	retryAttemptTimeout = "attempt_timeout"
	retryRing           = "ring"
	retryResplit        = "resplit"

	forwardLocal  = "local"
	forwardRemote = "remote"

	cacheHit  = "hit"
	cacheMiss = "miss"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "concord", "router"
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	m := &metrics{
		requests: vec("requests_total", "Requests routed, by operation and outcome.", "op", "outcome"),
		retries:  vec("retries_total", "Attempts after the first, by reason (not_leader, range_mismatch, range_not_found, unreachable, unavailable, attempt_timeout, ring, resplit).", "reason"),
		forwards: vec("forwards_total", "Attempts served by this node's own Store (local) or sent to another node (remote).", "target"),
		cache:    vec("cache_lookups_total", "Descriptor cache lookups, by result (hit, miss).", "result"),
		served:   vec("served_total", "Requests served by this node's Store for any router, by kind (write, leader, strong, eventual).", "kind"),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help:    "Time to route and serve a request, retries included, by operation and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"op", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.retries, m.forwards, m.cache, m.served)
	}
	return m
}

// observe counts one request of op that started at start and ended with
// outcome.
func (m *metrics) observe(op, outcome string, start time.Time) {
	m.requests.WithLabelValues(op, outcome).Inc()
	m.latency.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}
