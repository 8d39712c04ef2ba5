package rangegroup

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/concord-kv/concord/internal/await"
)

// samples is the number of observations h holds.
func samples(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func TestCommitLatencyObservedPerWrite(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 1, nil)
	c.createRange(1, 0, 0, "n1")
	st := c.leader(1).currentStore()
	before := samples(t, st.metrics.commitLatency)
	const writes = 5
	for i := range writes {
		c.put(1, fmt.Sprintf("k%d", i), "v")
	}
	if got := samples(t, st.metrics.commitLatency) - before; got < writes {
		t.Fatalf("commit latency histogram gained %d samples over %d writes", got, writes)
	}
}

func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := newTestCluster(t, 1, func(cfg *Config) { cfg.Registerer = reg })
	c.createRange(1, 0, 0, "n1")
	c.put(1, "k", "v")
	for _, name := range []string{
		"concord_rangegroup_proposals_total",
		"concord_rangegroup_commit_latency_seconds",
		"concord_rangegroup_leader_changes_total",
		"concord_rangegroup_replicas",
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series (%v), want some", name, n, err)
		}
	}
}

func TestSnapshotBytesCounted(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 2, nil)
	c.createRange(1, 0, 0, "n1")
	for i := range 10 {
		c.put(1, fmt.Sprintf("k%d", i), "v")
	}
	// A new replica starts empty and always catches up by snapshot.
	ld := c.leader(1).currentStore()
	if err := ld.ChangeReplicas(t.Context(), 1, []ReplicaChange{{Type: AddLearner, Node: "n2"}}); err != nil {
		t.Fatalf("add learner: %v", err)
	}
	n2 := c.node("n2")
	sent := ld.metrics.snapshotBytes.WithLabelValues("sent")
	received := n2.currentStore().metrics.snapshotBytes.WithLabelValues("received")
	await.Until(t, 20*time.Second, "snapshot bytes counted on both ends", func() error {
		s, r := testutil.ToFloat64(sent), testutil.ToFloat64(received)
		if s == 0 || r == 0 {
			return fmt.Errorf("sent %v, received %v bytes", s, r)
		}
		return nil
	})
	// The sender counts each chunk before the receiver reads it, so the
	// counts agree once the learner holds the data.
	await.Until(t, 20*time.Second, "learner receives the range", func() error {
		resp, err := n2.get(1, Eventual, "k9")
		if err != nil {
			return err
		}
		_, err = valueOf(resp)
		return err
	})
	if s, r := testutil.ToFloat64(sent), testutil.ToFloat64(received); s != r {
		t.Fatalf("sent %v snapshot bytes, received %v", s, r)
	}
}
