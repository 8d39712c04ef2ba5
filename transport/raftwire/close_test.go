package raftwire

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/concord-kv/concord/internal/await"
)

// raftwireGoroutines returns the stacks of goroutines, other than the
// caller, that run code of this package.
func raftwireGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	// The caller's goroutine is listed first. A goroutine runs the
	// package's code if a frame (or its creator) is in a non-test file.
	stacks := strings.Split(string(buf), "\n\n")[1:]
	var ours []string
	for _, s := range stacks {
		for _, m := range sourceFile.FindAllStringSubmatch(s, -1) {
			if !strings.HasSuffix(m[1], "_test") {
				ours = append(ours, s)
				break
			}
		}
	}
	return ours
}

// sourceFile matches the file of a stack frame in this package.
var sourceFile = regexp.MustCompile(`/transport/raftwire/([a-z_]+)\.go:`)

// Not parallel: it inspects every goroutine of the process, so it runs
// before the parallel tests start. With streams open both ways, an
// incoming snapshot parked in its handler and an outgoing one waiting for
// its verdict, Close leaves no goroutine of the package behind (gRPC
// servers still running), and stopping everything returns the goroutine
// count to where it was.
func TestCloseStopsAllGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newCluster(t)
	nodes := []*node{
		c.add("a", "127.6.0.1", nil),
		c.add("b", "127.6.0.2", nil),
		c.add("c", "127.6.0.3", nil),
	}
	for _, from := range nodes {
		for _, to := range nodes {
			if from != to {
				from.tr.Send(to.name, msg(1, 1, 10))
			}
		}
	}
	for _, to := range nodes {
		await.Until(t, eventually, "delivered to "+to.name, func() error {
			if n := to.tr.Stats().MessagesReceived; n != 2 {
				return fmt.Errorf("%d of 2", n)
			}
			return nil
		})
	}
	parked := make(chan struct{})
	nodes[1].rec.setSnapshot(func(ctx context.Context, _ string, _ []byte, next func() ([]byte, error)) error {
		for {
			if _, err := next(); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
		}
		close(parked)
		<-ctx.Done()
		return ctx.Err()
	})
	snapDone := make(chan error, 1)
	go func() {
		snapDone <- nodes[0].tr.SendSnapshot(testCtx(t, eventually), "b", nil, produce(3, 100))
	}()
	<-parked
	// Senders, ack readers, incoming handlers and their readers.
	if g := raftwireGoroutines(); len(g) < 12 {
		t.Fatalf("only %d package goroutines before Close: the check sees nothing", len(g))
	}

	for _, n := range nodes {
		if err := n.tr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-snapDone; err == nil {
		t.Error("snapshot in progress succeeded across Close")
	}
	// Close waited for the goroutines it owns; the readers of incoming
	// streams end as gRPC cancels their streams, just after.
	await.Until(t, eventually, "no raftwire goroutine after Close", func() error {
		if g := raftwireGoroutines(); len(g) > 0 {
			return fmt.Errorf("%d left, first:\n%s", len(g), g[0])
		}
		return nil
	})
	for _, n := range nodes {
		n.stop()
	}
	await.Until(t, eventually, fmt.Sprintf("goroutines back to %d", before), func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines", n)
		}
		return nil
	})
}
