// Package await lets tests wait for a condition with a deadline instead of
// sleeping for a guessed duration.
//
// It is test support only: production code must never import it.
package await

import (
	"testing"
	"time"
)

// pollEvery is how often a condition is re-checked. Conditions are cheap
// reads of in-process state, so polling is simpler than plumbing
// notifications through every layer and costs little.
const pollEvery = 10 * time.Millisecond

// Until checks cond until it returns nil, failing the test with the last
// error if that has not happened within the given time. The deadline is an
// upper bound on a correctness property, never a performance assertion:
// choose it generously for slow, loaded machines and the race detector.
func Until(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v: %v", what, within, err)
		}
		<-tick.C
	}
}
