package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord"
)

// TestStatusHealthReady covers the admin routes.
func TestStatusHealthReady(t *testing.T) {
	t.Parallel()
	var st statusDoc
	call(t, 1, http.MethodGet, "/api/v1/status", "").ok(t, &st)
	if st.Node != "n2" || len(st.Members) != 3 || len(st.Ranges) == 0 {
		t.Fatalf("status: %+v", st)
	}
	for _, r := range st.Ranges {
		if r.Leader == "" || len(r.Replicas) == 0 {
			t.Fatalf("range without leader or replicas: %+v", r)
		}
	}
	var health map[string]bool
	call(t, 2, http.MethodGet, "/api/v1/health", "").ok(t, &health)
	if !health["alive"] {
		t.Fatalf("health: %v", health)
	}
	var ready map[string]bool
	call(t, 0, http.MethodGet, "/api/v1/ready", "").ok(t, &ready)
	if !ready["ready"] {
		t.Fatalf("ready: %v", ready)
	}
	call(t, 0, http.MethodPost, "/api/v1/health", "").fails(t, http.StatusMethodNotAllowed, concord.CodeInvalidArgument)
}

// TestNotReady checks that a failing readiness check is 503 with the
// reason, and that health still answers.
func TestNotReady(t *testing.T) {
	t.Parallel()
	h := New(nodes[0], Options{Ready: func(context.Context) error { return errors.New("ranges without leaders: 3") }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body := get(ctx, t, srv.URL+"/api/v1/ready", http.StatusServiceUnavailable)
	if !strings.Contains(body, `"code":"unavailable"`) || !strings.Contains(body, "ranges without leaders: 3") {
		t.Fatalf("not ready answer: %s", body)
	}
	get(ctx, t, srv.URL+"/api/v1/health", http.StatusOK)
	// Without Options.Metrics there is no /metrics.
	get(ctx, t, srv.URL+"/metrics", http.StatusNotFound)
}

// TestMetrics checks that requests are counted per operation and outcome
// and that /metrics serves them.
func TestMetrics(t *testing.T) {
	t.Parallel()
	call(t, 0, http.MethodGet, "/api/v1/kv/metrics-missing", "").fails(t, http.StatusNotFound, concord.CodeNotFound)
	call(t, 0, http.MethodGet, "/api/v1/health", "").ok(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body := get(ctx, t, servers[0].URL+"/metrics", http.StatusOK)
	for _, want := range []string{
		`concord_http_requests_total{code="not_found",op="get"}`,
		`concord_http_requests_total{code="ok",op="health"}`,
		`concord_http_request_duration_seconds_bucket{code="not_found",op="get",le=`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %s:\n%s", want, body)
		}
	}
}

// get fetches url, checks the status and returns the body.
func get(ctx context.Context, t *testing.T, url string, status int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d: %s", url, resp.StatusCode, status, b)
	}
	return string(b)
}
