package ringsim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/concord-kv/concord/membership"
)

// Config describes one simulation run. Zero fields take defaults scaled to
// Nodes (see withDefaults); only Nodes is required.
type Config struct {
	// Nodes is the number of nodes built before steady state (N).
	Nodes int
	// Seed fixes every random choice the simulation makes: event times,
	// which node crashes, which node asks which key, join seeds, and the
	// in-memory network's loss decisions. Goroutine scheduling is not
	// fixed, so two runs with one seed make the same choices against
	// slightly different timings.
	Seed int64
	// Churn is the rate of membership events per stabilization interval
	// during the churn phase; zero skips the phase.
	Churn float64
	// Duration is how long churn lasts.
	Duration time.Duration
	// Lookups is the number of steady-state lookups measured for path
	// length (default 2000).
	Lookups int
	// LookupRate is the number of lookups per second issued during churn
	// (default 50).
	LookupRate float64
	// Interval is the ring's stabilization interval (default scaled to N:
	// 100ms up to 16 nodes, 200ms up to 64, 300ms up to 256, 500ms up to 512,
	// then 1s).
	Interval time.Duration
	// RPCTimeout bounds each ring RPC (default max(2*Interval, 500ms) up to
	// 64 nodes, 2s up to 512, 5s above: a busy process must not turn
	// scheduling delay into dropped successors or lookups that route around
	// a node that only answered late).
	RPCTimeout time.Duration
	// LookupTimeout bounds each lookup (default 10*RPCTimeout).
	LookupTimeout time.Duration
	// SuccessorCount is the ring's successor list length r (default 8).
	SuccessorCount int
	// Gossip is the memberlist timing; its zero fields take the values of
	// gossipTiming(Nodes): membership.FastTiming up to 64 nodes, slower
	// probing and gossip above.
	Gossip membership.Timing
	// Grace is how long a liveness condition (a live successor, one ring,
	// reaching the ring, being on it) may fail continuously before it counts
	// as a violation (default 2*DetectionTime + 4*Interval + 2*RPCTimeout).
	Grace time.Duration
	// SampleEvery is the period of invariant samples (default Interval).
	SampleEvery time.Duration
	// Batch is the number of nodes that join concurrently in one wave of the
	// build-up (default scaled to N: 4 to 32).
	Batch int
	// CalmLatency paces the build-up and the ideal-ring check: a wave of
	// joins, or the next 64 nodes' ideal-check lookups, start only once the
	// 99th percentile of the Go scheduler's latency (how long runnable
	// goroutines wait for a CPU) over a quarter of a gossip interval is at
	// most CalmLatency, or after six gossip probe intervals (default
	// Gossip.ProbeTimeout/10, so that gossip probes keep a wide margin;
	// negative: no pacing).
	CalmLatency time.Duration
	// MinLive is the fewest live nodes churn leaves: below it, a crash
	// becomes a join (default min(4, Nodes)).
	MinLive int
	// IdealKeys is the number of sample keys every node must look up with
	// one answer, the right one, for the ring to count as ideal (default 8).
	IdealKeys int
	// Workers bounds concurrent lookups in the steady-state and ideal checks
	// (default 16).
	Workers int
	// BuildTimeout, SettleTimeout and QuiesceTimeout bound the phases that
	// wait for the ring; zero derives them from N and Interval.
	BuildTimeout, SettleTimeout, QuiesceTimeout time.Duration
	// Progress receives one-line progress reports during long phases (nil
	// discards them).
	Progress io.Writer
}

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.Nodes < 1 {
		return c, errors.New("ringsim: Nodes must be at least 1")
	}
	if c.Nodes > maxHosts {
		return c, fmt.Errorf("ringsim: at most %d nodes", maxHosts)
	}
	if c.Churn < 0 || c.Duration < 0 || c.LookupRate < 0 || c.Lookups < 0 {
		return c, errors.New("ringsim: Churn, Duration, Lookups and LookupRate must not be negative")
	}
	if c.Churn > 0 && c.Duration == 0 {
		return c, errors.New("ringsim: Churn needs a Duration")
	}
	n := c.Nodes
	if c.Lookups == 0 {
		c.Lookups = 2000
	}
	if c.LookupRate == 0 {
		c.LookupRate = 50
	}
	if c.Interval == 0 {
		c.Interval = scaledInterval(n)
	}
	if c.RPCTimeout == 0 {
		switch {
		case n <= 64:
			c.RPCTimeout = max(2*c.Interval, 500*time.Millisecond)
		case n <= 512:
			c.RPCTimeout = 2 * time.Second
		default:
			c.RPCTimeout = 5 * time.Second
		}
	}
	if c.LookupTimeout == 0 {
		c.LookupTimeout = 10 * c.RPCTimeout
	}
	if c.SuccessorCount == 0 {
		c.SuccessorCount = 8
	}
	c.Gossip = c.Gossip.Or(gossipTiming(n))
	if c.Grace == 0 {
		c.Grace = 2*detectionTime(c.Gossip, n) + 4*c.Interval + 2*c.RPCTimeout
	}
	if c.SampleEvery == 0 {
		c.SampleEvery = c.Interval
	}
	if c.Batch == 0 {
		c.Batch = min(32, max(4, n/32))
	}
	if c.CalmLatency == 0 {
		c.CalmLatency = c.Gossip.ProbeTimeout / 10
	}
	if c.MinLive == 0 {
		c.MinLive = min(4, n)
	}
	if c.IdealKeys == 0 {
		c.IdealKeys = 8
	}
	if c.Workers == 0 {
		c.Workers = 16
	}
	// Phase budgets: generous multiples of what a healthy run needs, so a
	// timeout means the ring is stuck rather than slow.
	waves := float64(n)/float64(c.Batch) + 1
	if c.BuildTimeout == 0 {
		c.BuildTimeout = time.Minute + time.Duration(waves*float64(4*c.LookupTimeout))
		c.BuildTimeout = min(c.BuildTimeout, 20*time.Minute)
	}
	settle := time.Minute + time.Duration(4*math.Log2(float64(n)+1)*float64(c.Interval)*8) + c.Grace
	if c.SettleTimeout == 0 {
		c.SettleTimeout = settle
	}
	if c.QuiesceTimeout == 0 {
		c.QuiesceTimeout = settle
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c, nil
}

// scaledInterval picks a stabilization interval that two cores can sustain
// for n nodes: each round costs every node a handful of RPCs plus one finger
// lookup of about ½·log2 n hops.
func scaledInterval(n int) time.Duration {
	switch {
	case n <= 16:
		return 100 * time.Millisecond
	case n <= 64:
		return 200 * time.Millisecond
	case n <= 256:
		return 300 * time.Millisecond
	case n <= 512:
		return 500 * time.Millisecond
	default:
		return time.Second
	}
}

// gossipTiming is FastTiming for small clusters and slower above 64 nodes.
// In one process gossip, not the ring, is what saturates the CPU. Every
// join is announced to all n members, each of which retransmits the
// announcement RetransmitMult*ceil(log10(n+1)) times; the joiner also
// re-announces every member it learned from its seed's state, which the
// others decode and discard. A build-up of n nodes therefore costs about
// 2*RetransmitMult*ceil(log10(n+1))*n²/2 message decodes. Above 512 nodes
// one retransmission factor halves that (each informed node still sends an
// announcement to four others, and push-pull anti-entropy repairs what is
// missed), and slower probing keeps scheduling delays from turning into
// false suspicions (see the case below).
func gossipTiming(n int) membership.Timing {
	t := membership.FastTiming()
	switch {
	case n <= 64:
	case n <= 256:
		t.ProbeInterval = time.Second
		t.ProbeTimeout = 500 * time.Millisecond
		t.GossipInterval = 200 * time.Millisecond
		t.PushPullInterval = 30 * time.Second
	case n <= 512:
		t.ProbeInterval = 2 * time.Second
		t.ProbeTimeout = time.Second
		t.GossipInterval = time.Second
		t.PushPullInterval = 120 * time.Second
		t.SuspicionMult = 4
		t.RetransmitMult = 2
	default:
		// A probe that finds its target silent asks others and the TCP
		// path until the end of the probe interval, so a node is
		// suspected only when messages wait about half of it. Five
		// seconds keep that far above the scheduling delays of a busy
		// build on two cores; a false suspicion costs every node the
		// suspicion, its confirmations and the refutation.
		t.ProbeInterval = 5 * time.Second
		t.ProbeTimeout = 2 * time.Second
		t.GossipInterval = time.Second
		t.PushPullInterval = 120 * time.Second
		t.SuspicionMult = 4
		t.RetransmitMult = 1
	}
	return t
}

// detectionTime mirrors membership.Membership.DetectionTime for a cluster
// of n: the simulation needs it before any node exists.
func detectionTime(t membership.Timing, n int) time.Duration {
	scale := math.Max(1, math.Log10(math.Max(1, float64(n))))
	suspicion := time.Duration(float64(t.SuspicionMult) * scale * float64(t.ProbeInterval))
	return t.ProbeInterval + t.ProbeTimeout + suspicion
}
