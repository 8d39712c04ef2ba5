package httpapi

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord"
)

// metrics are the request metrics, labelled by operation (the route
// table's op, or "unrouted") and outcome (a concord.Code). A nil
// *metrics records nothing.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newMetrics registers the request metrics on reg; nil for a nil reg.
// Registering twice on one registry panics, as prometheus.MustRegister
// does: a second handler on the same registry is a wiring mistake.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_http_requests_total",
			Help: "HTTP API requests by operation and outcome code.",
		}, []string{"op", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "concord_http_request_duration_seconds",
			Help:    "HTTP API request latency by operation and outcome code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"op", "code"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// observe records one request.
func (m *metrics) observe(op string, code concord.Code, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(op, string(code)).Inc()
	m.latency.WithLabelValues(op, string(code)).Observe(d.Seconds())
}

// metricsHandler serves Options.Metrics (the route is only registered
// when it is set).
func (s *server) metricsHandler() http.Handler {
	return s.opts.Metrics
}
