package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
)

// proc is a concord-node process whose JSON log is followed.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	name string
	id   uint64
	addr string
	http string // the HTTP API's address
	succ string // latest "successors" field
	left bool
	done chan struct{}
}

func (p *proc) follow(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var rec struct {
			Msg        string `json:"msg"`
			Name       string `json:"name"`
			ID         uint64 `json:"id"`
			Addr       string `json:"addr"`
			Successors string `json:"successors"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		p.mu.Lock()
		switch rec.Msg {
		case "node listening":
			p.name, p.id, p.addr = rec.Name, rec.ID, rec.Addr
		case "http api listening":
			p.http = rec.Addr
		case "ring changed":
			p.succ = rec.Successors
		case "left ring":
			p.left = true
		}
		p.mu.Unlock()
	}
}

func (p *proc) snapshot() (name string, id uint64, addr, succ string, left bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.name, p.id, p.addr, p.succ, p.left
}

func buildNode(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "concord-node")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--bind", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json", "--stabilize-interval", "100ms", "--data-dir", t.TempDir()}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go p.follow(stderr)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		_ = cmd.Wait()
	})
	return p
}

// ringFormed checks that each process's latest logged successor list is the
// other processes in clockwise id order.
func ringFormed(procs []*proc) error {
	type node struct {
		name string
		id   uint64
		succ string
	}
	var nodes []node
	for _, p := range procs {
		name, id, _, succ, _ := p.snapshot()
		nodes = append(nodes, node{name, id, succ})
	}
	slices.SortFunc(nodes, func(a, b node) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	for i, n := range nodes {
		var want []string
		for k := 1; k < len(nodes); k++ {
			want = append(want, nodes[(i+k)%len(nodes)].name)
		}
		if n.succ != strings.Join(want, ",") {
			return fmt.Errorf("%s logs successors %q, want %q", n.name, n.succ, strings.Join(want, ","))
		}
	}
	return nil
}

func TestThreeProcessesFormARingAndLeave(t *testing.T) {
	bin := buildNode(t)
	first := startProc(t, bin, "--name", "p1")
	await.Until(t, 20*time.Second, "first node listening", func() error {
		if _, _, addr, _, _ := first.snapshot(); addr == "" {
			return fmt.Errorf("no address logged yet")
		}
		return nil
	})
	_, _, seed, _, _ := first.snapshot()
	procs := []*proc{first, startProc(t, bin, "--name", "p2", "--join", seed), startProc(t, bin, "--name", "p3", "--join", "127.0.0.1:1,"+seed)}
	await.Until(t, 30*time.Second, "three processes form one ring", func() error { return ringFormed(procs) })

	// SIGTERM leaves gracefully: the process exits 0 after handing its arc
	// over, and the other two form a ring of two.
	if err := procs[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-procs[1].done
	if err := procs[1].cmd.Wait(); err != nil {
		t.Fatalf("node exited with %v after SIGTERM", err)
	}
	if _, _, _, _, left := procs[1].snapshot(); !left {
		t.Fatal("node did not log that it left the ring")
	}
	rest := []*proc{procs[0], procs[2]}
	await.Until(t, 30*time.Second, "two processes form a ring", func() error { return ringFormed(rest) })
}
