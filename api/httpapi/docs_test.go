package httpapi

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDocsInBrowser loads /api/docs in headless Chromium and checks that
// the page's script listed every operation of the route table: the
// operations are not in the static HTML, so they can only come from the
// script rendering the OpenAPI document.
func TestDocsInBrowser(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required in CI: %v", err)
		}
		t.Skipf("chromium not installed (apt-get install chromium): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	static := get(ctx, t, servers[0].URL+"/api/docs", http.StatusOK)
	for _, rt := range routes() {
		if strings.Contains(static, `data-op="`+rt.method+" "+rt.path+`"`) {
			t.Fatalf("the static page already lists %s %s", rt.method, rt.path)
		}
	}
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--dump-dom", servers[0].URL+"/api/docs")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, rt := range routes() {
		if !strings.Contains(dom, `data-op="`+rt.method+" "+rt.path+`"`) || !strings.Contains(dom, `id="op-`+rt.op+`"`) {
			t.Errorf("the rendered page does not list %s %s:\n%s", rt.method, rt.path, dom)
		}
	}
	for _, want := range []string{"Send", "consistency (query)", "key (path, required)", "Concord HTTP API"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
}
