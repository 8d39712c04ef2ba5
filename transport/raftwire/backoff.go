package raftwire

import (
	"math/rand/v2"
	"time"
)

// Reconnection backoff of a peer's message stream: quick enough that a
// healed partition or restarted peer is back within about a second, slow
// enough that a dead peer costs a few dial attempts per second at most.
const (
	backoffBase = 50 * time.Millisecond
	backoffMax  = time.Second
)

// backoff is an exponential delay with jitter; the zero value starts at
// backoffBase. Not safe for concurrent use (a peer's sender owns it).
type backoff struct {
	cur time.Duration
}

// next returns the delay before the next attempt and grows the following
// one. The jitter (±20%) keeps peers that failed together from retrying in
// lockstep.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = backoffBase
	}
	d := b.cur
	b.cur = min(2*b.cur, backoffMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// reset starts over after a stream proved healthy.
func (b *backoff) reset() { b.cur = 0 }
