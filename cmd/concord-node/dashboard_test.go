package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/api/httpapi"
	"github.com/concord-kv/concord/internal/await"
)

// recorder is a Registerer that remembers the name and label names of
// every metric described to it, so that a metric counts as registered
// before it has any series (a CounterVec nobody incremented yet).
type recorder struct {
	*prometheus.Registry
	mu     sync.Mutex
	labels map[string][]string
}

var descRE = regexp.MustCompile(`fqName: "([^"]+)".*constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}`)

func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range ch {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		var labels []string
		for _, part := range strings.Split(m[2]+","+m[3], ",") {
			if name, _, _ := strings.Cut(part, "="); name != "" {
				labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(name, "c("), ")"))
			}
		}
		r.labels[m[1]] = labels
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// seriesLabels maps every series name a node exposes to its label names:
// counters and gauges by their own name, histograms by _bucket (with le),
// _sum and _count, summaries by their name (with quantile), _sum and
// _count.
func (r *recorder) seriesLabels(t *testing.T) map[string][]string {
	t.Helper()
	families, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]dto.MetricType{}
	for _, f := range families {
		types[f.GetName()] = f.GetType()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for name, labels := range r.labels {
		switch types[name] {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"] = append(slices.Clone(labels), "le")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		case dto.MetricType_SUMMARY:
			out[name] = append(slices.Clone(labels), "quantile")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		default:
			out[name] = labels
		}
	}
	return out
}

var (
	// seriesRE finds the metric names in a PromQL expression: every
	// identifier of the families the dashboard charts.
	seriesRE = regexp.MustCompile(`\b((?:concord|go|process)_[a-zA-Z0-9_]+)(\{[^}]*\})?`)
	// matcherRE finds the label names of a selector's matchers.
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	// byRE finds the label lists of aggregations' by clauses.
	byRE = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

// dashboardQueries returns every PromQL expression of the dashboard: the
// panels' targets (in rows too) and the template variables' queries.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		SchemaVersion int               `json:"schemaVersion"`
		Panels        []json.RawMessage `json:"panels"`
		Templating    struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("parse dashboard: %v", err)
	}
	if dash.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want a current Grafana schema (36+)", dash.SchemaVersion)
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("parse panel: %v", err)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q has a target without a query", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	hasDS := false
	for _, v := range dash.Templating.List {
		hasDS = hasDS || v.Name == "DS_PROMETHEUS"
		if v.Definition != "" {
			exprs = append(exprs, v.Definition)
		}
	}
	if !hasDS {
		t.Error("the dashboard has no DS_PROMETHEUS data source variable")
	}
	return exprs
}

// TestDashboardQueriesRegisteredMetrics checks that every metric the
// Grafana dashboard queries, with every label it filters or groups on, is
// registered by a node as concord-node runs it (with its HTTP API), so
// that a renamed metric or label cannot leave a panel empty.
func TestDashboardQueriesRegisteredMetrics(t *testing.T) {
	t.Parallel()
	exprs := dashboardQueries(t)
	if len(exprs) < 20 {
		t.Fatalf("found %d queries in the dashboard, want its panels' (20+)", len(exprs))
	}

	reg := &recorder{Registry: prometheus.NewRegistry(), labels: map[string][]string{}}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := concord.Open(ctx, concord.Config{
		Name:              "n1",
		BindAddr:          "127.0.0.1:0",
		DataDir:           t.TempDir(),
		Replicas:          1,
		TickInterval:      40 * time.Millisecond,
		StabilizeInterval: 100 * time.Millisecond,
		Registerer:        reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := node.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	// One request, so that the HTTP histogram has series to gather.
	httpapi.New(node, httpapi.Options{Registerer: reg}).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/health", nil))
	await.Until(t, 20*time.Second, "node ready", func() error { return node.Ready(ctx) })
	if _, err := node.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if node.Gatherer() != prometheus.Gatherer(reg) {
		t.Error("Gatherer does not return the configured registry")
	}

	series := reg.seriesLabels(t)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := series[name]; !ok {
			t.Errorf("runtime metric %s is not registered", name)
		}
	}
	checked := 0
	for _, expr := range exprs {
		for _, m := range seriesRE.FindAllStringSubmatch(expr, -1) {
			name, selector := m[1], m[2]
			labels, ok := series[name]
			if !ok {
				t.Errorf("the dashboard queries %s, which a node does not register (in %q)", name, expr)
				continue
			}
			checked++
			for _, lm := range matcherRE.FindAllStringSubmatch(selector, -1) {
				// Prometheus adds instance to every scraped series.
				if l := lm[1]; l != "instance" && !slices.Contains(labels, l) {
					t.Errorf("the dashboard filters %s on label %q, which it does not have (labels %v)", name, l, labels)
				}
			}
		}
	}
	// Labels an expression groups by must belong to its series.
	for _, expr := range exprs {
		var labels []string
		for _, m := range seriesRE.FindAllStringSubmatch(expr, -1) {
			labels = append(labels, series[m[1]]...)
		}
		for _, by := range byRE.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(by[1], ",") {
				if l = strings.TrimSpace(l); l != "" && l != "instance" && !slices.Contains(labels, l) {
					t.Errorf("the dashboard groups by label %q, which the series of %q do not have", l, expr)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked %d metric references, want the dashboard's (20+)", checked)
	}
}
