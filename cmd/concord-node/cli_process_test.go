package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/concord-kv/concord/api/adminpb"
	"github.com/concord-kv/concord/internal/await"
)

// TestKVSubcommands runs the built binary's put, get, delete, ring and
// ranges subcommands against a running single-node process.
func TestKVSubcommands(t *testing.T) {
	t.Parallel()
	bin := buildNode(t)
	p := startProc(t, bin, "--name", "cli")
	await.Until(t, 20*time.Second, "node listening", func() error {
		if _, _, addr, _, _ := p.snapshot(); addr == "" {
			return errors.New("no address logged yet")
		}
		return nil
	})
	_, _, addr, _, _ := p.snapshot()
	run := func(args ...string) (string, error) {
		full := append([]string{args[0], "--addr", addr, "--timeout", "5s"}, args[1:]...)
		out, err := exec.Command(bin, full...).Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = errors.New(strings.TrimSpace(string(ee.Stderr)))
		}
		return string(out), err
	}

	// The first write waits for the range's first leader.
	await.Until(t, 20*time.Second, "put", func() error {
		out, err := run("put", "greeting", "hello world", "--ttl", "1h")
		if err == nil && !strings.HasPrefix(out, "OK: greeting version 1") {
			t.Fatalf("put printed %q", out)
		}
		return err
	})
	if out, err := run("get", "greeting"); err != nil || out != "hello world\n" {
		t.Fatalf("get: %q, %v", out, err)
	}
	out, err := run("get", "--json", "--consistency", "strong", "greeting")
	var kv struct {
		Key       string     `json:"key"`
		Value     string     `json:"value"`
		Version   uint64     `json:"version"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err != nil || json.Unmarshal([]byte(out), &kv) != nil || kv.Key != "greeting" || kv.Value != "hello world" || kv.Version != 1 || kv.ExpiresAt == nil {
		t.Fatalf("get --json: %q, %v", out, err)
	}
	if out, err := run("put", "--json", "dash", "--", "-v"); err != nil || !strings.Contains(out, `"version": 1`) {
		t.Fatalf("put --json: %q, %v", out, err)
	}
	if out, err := run("get", "dash"); err != nil || out != "-v\n" {
		t.Fatalf("get after --: %q, %v", out, err)
	}
	if out, err := run("delete", "greeting"); err != nil || out != "deleted greeting\n" {
		t.Fatalf("delete: %q, %v", out, err)
	}
	if _, err := run("get", "greeting"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("get of a deleted key: %v", err)
	}
	if _, err := run("put", "only-key"); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("put without a value: %v", err)
	}

	out, err = run("ring", "--json")
	var ring adminpb.RingResponse
	if err != nil || protojson.Unmarshal([]byte(out), &ring) != nil || len(ring.Nodes) != 1 || ring.Nodes[0].Self.GetName() != "cli" {
		t.Fatalf("ring --json: %q, %v", out, err)
	}
	if out, err := run("ring"); err != nil || !strings.Contains(out, "RING") || !strings.Contains(out, "cli") {
		t.Fatalf("ring: %q, %v", out, err)
	}
	out, err = run("ranges", "--json")
	var ranges adminpb.RangesResponse
	if err != nil || protojson.Unmarshal([]byte(out), &ranges) != nil || len(ranges.Ranges) != 1 || ranges.Ranges[0].Leader != "cli" || ranges.Ranges[0].LeaderAddress != addr {
		t.Fatalf("ranges --json: %q, %v", out, err)
	}
	if out, err := run("ranges"); err != nil || !strings.Contains(out, "RANGES") || !strings.Contains(out, addr) {
		t.Fatalf("ranges: %q, %v", out, err)
	}
}
