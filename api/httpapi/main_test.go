package httpapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/membership"
)

// The tests share one 3-node cluster on loopback TCP, with an HTTP server
// in front of each node; tests use keys of their own so that they can run
// in parallel.
var (
	nodes   []*concord.Node
	servers []*httptest.Server
	reg     *prometheus.Registry
)

func TestMain(m *testing.M) {
	code, err := runWithCluster(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpapi tests:", err)
		code = 1
	}
	os.Exit(code)
}

// runWithCluster starts the cluster and the servers, runs the tests and
// stops everything.
func runWithCluster(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "httpapi-test-")
	if err != nil {
		return 0, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	defer func() {
		for _, s := range servers {
			s.Close()
		}
		for _, n := range nodes {
			_ = n.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 3 {
		cfg := concord.Config{
			Name:              fmt.Sprintf("n%d", i+1),
			BindAddr:          "127.0.0.1:0",
			DataDir:           fmt.Sprintf("%s/n%d", dir, i+1),
			TickInterval:      40 * time.Millisecond,
			StabilizeInterval: 100 * time.Millisecond,
			Gossip:            membership.FastTiming(),
			RequestTimeout:    5 * time.Second,
		}
		if i > 0 {
			cfg.Seeds = []string{nodes[0].Addr()}
		}
		n, err := concord.Open(ctx, cfg)
		if err != nil {
			return 0, fmt.Errorf("open node %d: %w", i+1, err)
		}
		nodes = append(nodes, n)
	}
	reg = prometheus.NewRegistry()
	for i, n := range nodes {
		opts := Options{Ready: n.Ready}
		if i == 0 {
			opts.Registerer = reg
			opts.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
		}
		servers = append(servers, httptest.NewServer(New(n, opts)))
	}
	if err := waitReady(ctx); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// waitReady waits until every node is ready and a write through each
// node succeeds, so tests start against a cluster with range leaders.
func waitReady(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i, n := range nodes {
		for {
			err := n.Ready(ctx)
			if err == nil {
				_, err = n.Put(ctx, []byte(fmt.Sprintf("warmup-%d", i)), []byte("1"))
			}
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("node %d not ready: %w", i+1, err)
			case <-tick.C:
			}
		}
	}
	return nil
}
