package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/rangegroup/kv"
)

// Options configures the handler. The zero value serves every route but
// /metrics, logs nothing and always reports ready.
type Options struct {
	// Logger receives a line per failed request whose code is internal
	// (default: discard). Client errors are not logged: they are the
	// client's to see, in the response.
	Logger *slog.Logger
	// Ready answers /api/v1/ready: nil error when the node can serve, an
	// error saying why not otherwise. Nil means always ready.
	Ready func(ctx context.Context) error
	// Metrics, when non-nil, is mounted at /metrics (a Prometheus
	// handler); without it /metrics is not served.
	Metrics http.Handler
	// Registerer, when non-nil, registers the request metrics.
	Registerer prometheus.Registerer
	// Limits are the node's limits (default kv.DefaultLimits()). The
	// handler checks bulk sizes and listing limits against them before
	// calling the KV, and derives the default MaxBodyBytes from them.
	Limits kv.Limits
	// MaxBodyBytes bounds a request body (default: room for a value of
	// Limits.MaxValueSize in its longest JSON form, or for a full batch
	// of maximal keys, whichever is larger). A larger body is rejected
	// with 413.
	MaxBodyBytes int64
}

// New returns the HTTP handler of the REST API over kv.
func New(store concord.KV, opts Options) http.Handler {
	s := &server{kv: store, opts: opts}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if s.opts.Limits == (kv.Limits{}) {
		s.opts.Limits = kv.DefaultLimits()
	}
	if s.opts.MaxBodyBytes <= 0 {
		s.opts.MaxBodyBytes = defaultMaxBody(s.opts.Limits)
	}
	s.metrics = newMetrics(opts.Registerer)
	mux := http.NewServeMux()
	for _, rt := range routes() {
		if rt.op == "metrics" && opts.Metrics == nil {
			continue
		}
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	s.mux = mux
	mux.HandleFunc("/", s.fallback)
	return mux
}

// defaultMaxBody is the default body bound: a maximal value written as a
// JSON string of \u escapes (6 bytes a byte), or a full batch of maximal
// keys written so, plus room for the envelope's other fields.
func defaultMaxBody(l kv.Limits) int64 {
	value := int64(l.MaxValueSize) * 6
	batch := int64(l.MaxBatchItems) * (int64(l.MaxKeySize)*6 + 256)
	return max(value, batch) + 64<<10
}

// server holds what every route needs; it has no mutable state.
type server struct {
	kv      concord.KV
	opts    Options
	metrics *metrics
	mux     *http.ServeMux
}

// wrap turns a route into a handler: it checks the query parameters,
// bounds the body, writes the envelope and records the metrics.
func (s *server) wrap(rt route) http.Handler {
	if rt.serve == nil {
		inner := rt.raw(s)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			inner.ServeHTTP(w, r)
			s.metrics.observe(rt.op, concord.CodeOK, time.Since(start))
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		var data any
		err := checkQuery(r, rt.query)
		if err == nil {
			data, err = rt.serve(s, r)
		}
		code := concord.CodeOK
		if err != nil {
			err = tooLarge(err, rt.bulk)
			code = codeOf(err)
			if code == concord.CodeInternal {
				s.opts.Logger.Error("http request failed", "op", rt.op, "path", r.URL.EscapedPath(), "err", err)
			}
			writeError(w, code, err.Error())
		} else {
			writeJSON(w, http.StatusOK, okEnvelope{Status: "ok", Data: data})
		}
		s.metrics.observe(rt.op, code, time.Since(start))
	})
}

// checkQuery rejects a query parameter the route does not take.
func checkQuery(r *http.Request, allowed []string) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	for name := range q {
		if !slices.Contains(allowed, name) {
			return invalidArg("unknown query parameter %q", name)
		}
	}
	return nil
}

// fallback answers a request no route matched: 405 with the allowed
// methods when the path exists under another method, 404 otherwise, both
// in the error envelope rather than ServeMux's plain text.
func (s *server) fallback(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeErrorStatus(w, http.StatusMethodNotAllowed, concord.CodeInvalidArgument,
			fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, strings.Join(allowed, ", ")))
		s.metrics.observe("unrouted", concord.CodeInvalidArgument, time.Since(start))
		return
	}
	writeError(w, concord.CodeNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.EscapedPath()))
	s.metrics.observe("unrouted", concord.CodeNotFound, time.Since(start))
}
