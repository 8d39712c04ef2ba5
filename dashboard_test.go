package concord

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/transport"
)

// dashboardAllowlist are the series the dashboard queries that a node does
// not register itself: the HTTP API's, registered by api/httpapi.
var dashboardAllowlist = []string{
	"concord_http_requests_total",
	"concord_http_request_duration_seconds_bucket",
}

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
)

// dashboardQueries returns every PromQL expression of the dashboard: the
// panels' targets (in rows too) and the template variables' queries.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("docs/grafana-dashboard.json")
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
// Grafana dashboard queries, with every label it filters on, is registered
// by a running node, so that a renamed metric cannot leave a panel empty.
func TestDashboardQueriesRegisteredMetrics(t *testing.T) {
	t.Parallel()
	exprs := dashboardQueries(t)
	if len(exprs) < 20 {
		t.Fatalf("found %d queries in the dashboard, want its panels' (20+)", len(exprs))
	}

	reg := &recorder{Registry: prometheus.NewRegistry(), labels: map[string][]string{}}
	registerRuntimeCollectors(reg)
	net := transport.NewMemNetwork(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := Open(ctx, Config{
		Name:              "n1",
		BindAddr:          "127.0.4.1:7946",
		DataDir:           "/data",
		FS:                vfs.NewMem(),
		Network:           net.Host("127.0.4.1"),
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
	await.Until(t, 20*time.Second, "node ready", func() error { return ready(node) })
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
			if slices.Contains(dashboardAllowlist, name) {
				continue
			}
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
	if checked < 20 {
		t.Errorf("checked %d metric references, want the dashboard's (20+)", checked)
	}
}

// TestDefaultRegistryHasRuntimeMetrics checks that a node given no
// Registerer still exposes its own and the Go runtime's metrics.
func TestDefaultRegistryHasRuntimeMetrics(t *testing.T) {
	t.Parallel()
	c := newKVCluster(t)
	c.replicas = 1
	n := c.add()
	g := n.node.Gatherer()
	if g == nil {
		t.Fatal("a node with no Registerer has no Gatherer")
	}
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		have[f.GetName()] = true
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "concord_ring_member", "concord_rangegroup_replicas"} {
		if !have[name] {
			t.Errorf("default registry lacks %s", name)
		}
	}
}
