package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
)

// readmeCurlLines returns the commands of the README's block marked
// readme-curl.
func readmeCurlLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "<!-- readme-curl")
	if !ok {
		t.Fatal("README has no readme-curl block")
	}
	_, block, _ = strings.Cut(block, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestReadmeCurlExamples runs the README's curl examples, as written but
// for the HTTP port, against a node started as README says, and checks
// that every one succeeds.
func TestReadmeCurlExamples(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed")
		}
		t.Skip("curl is not installed (CI installs it)")
	}
	lines := readmeCurlLines(t)
	if len(lines) < 10 {
		t.Fatalf("only %d README curl lines", len(lines))
	}
	p := startProc(t, buildNode(t), "--name", "readme")
	var httpAddr string
	await.Until(t, 30*time.Second, "the HTTP API listening", func() error {
		p.mu.Lock()
		httpAddr = p.http
		p.mu.Unlock()
		if httpAddr == "" {
			return fmt.Errorf("no HTTP address logged yet")
		}
		return nil
	})
	for _, line := range lines {
		if !strings.HasPrefix(line, "curl ") {
			t.Fatalf("README line %q is not a curl command", line)
		}
		cmd := strings.ReplaceAll(line, "localhost:4000", httpAddr)
		cmd = strings.Replace(cmd, "curl ", curl+" ", 1)
		out, err := exec.Command("sh", "-c", cmd).Output()
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var env struct {
			Status string          `json:"status"`
			Data   json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(out, &env); err != nil || env.Status != "ok" {
			t.Fatalf("%s\n  answered %s", line, out)
		}
	}
}
