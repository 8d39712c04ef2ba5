package transport

import (
	"maps"
	"time"
)

// faultRules is one immutable version of a MemNetwork's fault rules. Data
// paths (dials, datagram sends, RPCs) read the current version through an
// atomic pointer without any lock; a rule change copies it, edits the copy
// and publishes it (see MemNetwork.editRules). Copies are rare and small:
// rules change when a test or the simulator injects a fault.
type faultRules struct {
	cuts  map[linkKey]struct{}
	loss  map[linkKey]float64
	delay map[linkKey]time.Duration
}

func newFaultRules() *faultRules {
	return &faultRules{
		cuts:  make(map[linkKey]struct{}),
		loss:  make(map[linkKey]float64),
		delay: make(map[linkKey]time.Duration),
	}
}

func (r *faultRules) clone() *faultRules {
	return &faultRules{cuts: maps.Clone(r.cuts), loss: maps.Clone(r.loss), delay: maps.Clone(r.delay)}
}

// cut reports whether from->to is cut.
func (r *faultRules) cut(from, to string) bool {
	_, cut := r.cuts[linkKey{from, to}]
	return cut
}

// delayOf is the delay from->to after wildcard resolution.
func (r *faultRules) delayOf(from, to string) time.Duration {
	d, _ := lookupRule(r.delay, from, to)
	return d
}

// lossOf is the loss probability from->to after wildcard resolution.
func (r *faultRules) lossOf(from, to string) float64 {
	p, _ := lookupRule(r.loss, from, to)
	return p
}

// lookupRule resolves wildcards, most specific first.
func lookupRule[V any](rules map[linkKey]V, from, to string) (V, bool) {
	var zero V
	if len(rules) == 0 {
		return zero, false
	}
	for _, k := range [...]linkKey{{from, to}, {from, ""}, {"", to}, {"", ""}} {
		if v, ok := rules[k]; ok {
			return v, true
		}
	}
	return zero, false
}
