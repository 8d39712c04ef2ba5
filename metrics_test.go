package concord

import "testing"

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
