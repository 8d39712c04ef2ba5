package ringsim

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress writes timestamped one-line status reports for a human watching
// a long run. It never affects the run.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *progress) printf(phase, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%7.1fs] %-7s %s\n", time.Since(p.start).Seconds(), phase, fmt.Sprintf(format, args...))
}

// every returns a function that reports true at most once per period, for
// throttling progress lines inside polling loops.
func every(period time.Duration) func() bool {
	var last time.Time
	return func() bool {
		if time.Since(last) < period {
			return false
		}
		last = time.Now()
		return true
	}
}
