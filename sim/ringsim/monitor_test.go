package ringsim

import (
	"testing"
	"time"
)

func TestMonitorGraceAndEpisodes(t *testing.T) {
	start := time.Unix(0, 0)
	m := newMonitor(Config{Grace: 3 * time.Second, Seed: 7}, start)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	live := finding{kindLiveSuccessor, "n1", "no live entry"}
	order := finding{kindOrderedSuccessors, "n2", "out of order"}
	rings := finding{kindMultipleRings, "ring", "two cycles"}

	m.observe(at(0), []finding{live, order, rings}, 0)
	if v, _, _ := m.result(); len(v) != 1 || v[0].Kind != kindOrderedSuccessors || v[0].Seed != 7 {
		t.Fatalf("after one sample: %+v, want only the ordering violation", v)
	}
	m.observe(at(1), []finding{live, order, rings}, 0)
	if v, _, _ := m.result(); len(v) != 2 || v[1].Kind != kindMultipleRings {
		t.Fatalf("after two samples: %+v, want multiple-rings confirmed", v)
	}
	// live-successor heals before its grace and comes back: a new episode.
	m.observe(at(2), nil, 0)
	m.observe(at(2.5), []finding{live}, 0)
	m.observe(at(5), []finding{live}, 0)
	if v, _, _ := m.result(); len(v) != 2 {
		t.Fatalf("live-successor counted before its grace: %+v", v)
	}
	m.observe(at(5.5), []finding{live}, 0)
	m.observe(at(9), []finding{live}, 0)
	v, samples, _ := m.result()
	if len(v) != 3 || v[2].Kind != kindLiveSuccessor || v[2].Since != 3*time.Second {
		t.Fatalf("after grace: %+v", v)
	}
	if samples != 7 {
		t.Fatalf("samples %d, want 7", samples)
	}
}
