package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRingCommand(t *testing.T) {
	md := filepath.Join(t.TempDir(), "report.md")
	var stdout, stderr bytes.Buffer
	code := run([]string{"ring", "-nodes", "4", "-lookups", "50", "-quiet", "-report", md}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "RESULT: PASS") || !strings.Contains(stdout.String(), "Steady-state lookups (N = 4)") {
		t.Errorf("report lacks the result or the steady-state table:\n%s", stdout.String())
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "# Ring simulation: 4 nodes, seed 1: PASS") {
		t.Errorf("markdown report starts %q", string(b[:min(len(b), 80)]))
	}
}

func TestRingCommandUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"ring", "-nodes", "0"}, {"ring", "extra"}, {"ring", "-churn", "1", "-duration", "0"}, {"nosuch"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit status %d, want 2", args, code)
		}
	}
}
