package concord

// The three figures of the "distributed KV store end to end" issue, measured
// on in-process clusters (the kvCluster harness of cluster_test.go): failover
// time after a crash, catch-up time of a new replica, and hops per request
// from the embedded API. Each benchmark iteration is one measurement, reported
// with b.ReportMetric; ns/op is suppressed because an iteration includes the
// untimed set-up of the next one. Timing never fails anything: a benchmark
// fails only when the cluster does not reach a state it must reach at all.
// Results and commands are in docs/benchmarks.md ("KV store end to end").

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/membership"
	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/storage/storagepb"
)

// benchCluster is a kvCluster whose nodes start with the configuration tune
// makes of the harness's, each registering its metrics in a registry of its
// own (a fresh one per start, since a restarted node registers again).
type benchCluster struct {
	*kvCluster
	tune func(n *kvNode, cfg *Config)

	regMu sync.Mutex
	regs  map[string]*prometheus.Registry // by node name, of its current run
}

func newBenchCluster(b *testing.B, tune func(n *kvNode, cfg *Config)) *benchCluster {
	return &benchCluster{kvCluster: newKVCluster(b), tune: tune, regs: make(map[string]*prometheus.Registry)}
}

// realDefaults undoes the harness's fast timings: Raft ticks of 100 ms with
// elections after ten, stabilization every 500 ms, memberlist's LAN gossip,
// a 30 s replacement grace and 10 s request timeout, all as Config's zero
// values give them. The data stays on the node's in-memory filesystem.
func realDefaults(_ *kvNode, cfg *Config) {
	cfg.TickInterval = 0
	cfg.StabilizeInterval = 0
	cfg.Gossip = membership.Timing{}
	cfg.ReplaceAfter = 0
	cfg.RequestTimeout = 0
}

// onDisk returns a tune that keeps realDefaults' timings and puts each
// node's data in its own directory under dir on the real filesystem.
func onDisk(dir string) func(*kvNode, *Config) {
	return func(n *kvNode, cfg *Config) {
		realDefaults(n, cfg)
		cfg.FS = vfs.Default
		cfg.DataDir = filepath.Join(dir, n.name)
	}
}

// add starts a new node joining through the live ones, as kvCluster.add
// does, with the cluster's tuned configuration.
func (c *benchCluster) add() *kvNode {
	c.t.Helper()
	c.mu.Lock()
	i := len(c.nodes) + 1
	n := &kvNode{name: fmt.Sprintf("n%d", i), ip: fmt.Sprintf("127.0.2.%d", i), fs: vfs.NewCrashableMem()}
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	c.start(n, c.seeds(n))
	return n
}

// start opens n with the tuned configuration and a fresh registry.
func (c *benchCluster) start(n *kvNode, seeds []string) {
	c.t.Helper()
	cfg := c.config(n, seeds)
	c.tune(n, &cfg)
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node, err := Open(ctx, cfg)
	if err != nil {
		c.t.Fatalf("open %s: %v", n.name, err)
	}
	c.regMu.Lock()
	c.regs[n.name] = reg
	c.regMu.Unlock()
	c.mu.Lock()
	n.node = node
	c.mu.Unlock()
}

func (c *benchCluster) registry(n *kvNode) *prometheus.Registry {
	c.regMu.Lock()
	defer c.regMu.Unlock()
	return c.regs[n.name]
}

// inArc reports whether ring position pos lies in the arc (start, end]; an
// arc whose ends meet is the whole circle.
func inArc(start, end, pos uint64) bool {
	switch {
	case start == end:
		return true
	case start < end:
		return pos > start && pos <= end
	default:
		return pos > start || pos <= end
	}
}

// ledRange is one range as its leader sees it.
type ledRange struct {
	leader *kvNode
	info   rangegroup.RangeInfo
}

// leaderViews reads every live node's Store directly (no RPC, no key
// counting, so that polling it costs the measured cluster little) and
// returns the ranges some live node leads, each with its leader's view,
// ordered by range end.
func (c *benchCluster) leaderViews() []ledRange {
	var out []ledRange
	for _, n := range c.live() {
		for _, info := range n.node.store.Ranges() {
			if info.IsLeader && info.Descriptor != nil {
				out = append(out, ledRange{leader: n, info: info})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].info.Descriptor.End < out[j].info.Descriptor.End })
	return out
}

// wanted returns the placement rule for the live nodes: the names of the
// replicas of a range ending at end, preferred leader first.
func (c *benchCluster) wanted() func(end uint64) []string {
	type member struct {
		name string
		id   uint64
	}
	var ring []member
	for _, n := range c.live() {
		ring = append(ring, member{n.name, n.node.Ring().Id()})
	}
	sort.Slice(ring, func(i, j int) bool { return ring[i].id < ring[j].id })
	return func(end uint64) []string {
		i := sort.Search(len(ring), func(i int) bool { return ring[i].id >= end })
		var names []string
		for k := range min(c.replicas, len(ring)) {
			names = append(names, ring[(i+k)%len(ring)].name)
		}
		return names
	}
}

// tiledViews returns the leaders' views of the ranges after checking that
// they tile the circle (without a leader for some range there is a gap)
// and that every live member's id ends a range, as the placement rule
// needs: until a range is split at a new member's id, the rule cannot give
// the member the range's lower part.
func (c *benchCluster) tiledViews() ([]ledRange, error) {
	views := c.leaderViews()
	if len(views) == 0 {
		return nil, errors.New("no range has a leader")
	}
	live := c.live()
	for i, v := range views {
		d := v.info.Descriptor
		prev := views[(i+len(views)-1)%len(views)].info.Descriptor
		if d.Start != prev.End {
			return nil, fmt.Errorf("range %d starts at %x, the previous led range ends at %x", d.RangeId, d.Start, prev.End)
		}
		for _, n := range live {
			if id := n.node.Ring().Id(); id != d.End && inArc(d.Start, d.End, id) {
				return nil, fmt.Errorf("range %d (%x, %x] not split at %s's id %x yet", d.RangeId, d.Start, d.End, n.name, id)
			}
		}
	}
	return views, nil
}

// localPlacementError is placementError computed from the Stores instead
// of a cluster Status: each led range has exactly the wanted voters and
// the preferred leader, and the led ranges tile the circle.
func (c *benchCluster) localPlacementError() error {
	views, err := c.tiledViews()
	if err != nil {
		return err
	}
	want := c.wanted()
	for _, v := range views {
		d := v.info.Descriptor
		var got []string
		for _, rd := range d.Replicas {
			if rd.Type != storagepb.ReplicaType_VOTER {
				return fmt.Errorf("range %d still has learner %s", d.RangeId, rd.Node)
			}
			got = append(got, rd.Node)
		}
		w := want(d.End)
		if !sameSet(got, w) {
			return fmt.Errorf("range %d on %v, want %v", d.RangeId, got, w)
		}
		if v.leader.name != w[0] {
			return fmt.Errorf("range %d led by %s, want %s", d.RangeId, v.leader.name, w[0])
		}
	}
	return nil
}

// replicaError reports what keeps n from being a full replica of its
// ranges: every range the placement rule gives n must list it as a voter
// in its leader's descriptor, and n's replica must have applied up to the
// leader's commit index. It also returns those ranges' ids.
func (c *benchCluster) replicaError(n *kvNode) ([]uint64, error) {
	views, err := c.tiledViews()
	if err != nil {
		return nil, err
	}
	want := c.wanted()
	var ids []uint64
	for _, v := range views {
		d := v.info.Descriptor
		if !slices.Contains(want(d.End), n.name) {
			continue
		}
		ids = append(ids, d.RangeId)
		voter := slices.ContainsFunc(d.Replicas, func(rd *storagepb.ReplicaDescriptor) bool {
			return rd.Node == n.name && rd.Type == storagepb.ReplicaType_VOTER
		})
		if !voter {
			return nil, fmt.Errorf("range %d: %s is not a voter yet", d.RangeId, n.name)
		}
		if v.leader == n {
			continue
		}
		mine, err := n.node.store.Range(d.RangeId)
		if err != nil {
			return nil, fmt.Errorf("range %d: %w", d.RangeId, err)
		}
		if mine.AppliedIndex < v.info.CommitIndex {
			return nil, fmt.Errorf("range %d: %s applied %d of %d", d.RangeId, n.name, mine.AppliedIndex, v.info.CommitIndex)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the placement rule gives %s no range", n.name)
	}
	return ids, nil
}

// settle waits for a steady state: the cluster Status shows every member
// reachable and the placement done (placementError), and so do the
// Stores, with each range also split at every member id inside it, which
// placementError does not check (while every node holds every range it
// passes before the splits).
func (c *benchCluster) settle(b *testing.B, within time.Duration, what string) {
	b.Helper()
	await.Until(b, within, what, func() error {
		if err := c.placementError(); err != nil {
			return err
		}
		return c.localPlacementError()
	})
}

// poll calls cond every interval until it returns nil and returns when
// that happened, failing b if it has not within the given time: a bound on
// reaching a state at all, never a performance assertion.
func poll(b *testing.B, within, interval time.Duration, what string, cond func() error) time.Time {
	b.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := cond()
		now := time.Now()
		if err == nil {
			return now
		}
		if now.After(deadline) {
			b.Fatalf("%s: not reached within %v: %v", what, within, err)
		}
		<-tick.C
	}
}

// suppressNsPerOp hides ns/op, meaningless when an iteration includes the
// untimed set-up of the next.
func suppressNsPerOp(b *testing.B) { b.ReportMetric(0, "ns/op") }

// BenchmarkFailover crashes the node that leads the most ranges of a
// three-node cluster running with the default timings, under a write load,
// and measures the time from the crash until every range has a leader on a
// surviving node and has accepted a write sent after the crash. The node
// restarts on its data between iterations (well within the 30 s grace, so
// nothing is re-replicated) and placement returns leadership to it.
func BenchmarkFailover(b *testing.B) {
	c := newBenchCluster(b, realDefaults)
	for range 3 {
		c.add()
	}
	c.settle(b, 120*time.Second, "placement")
	w := c.startWriter()
	b.Cleanup(func() { w.halt() }) // before the cluster's cleanup: LIFO
	var recovers, leaders []time.Duration
	var ranges, led int
	for b.Loop() {
		victim, probes, victimLed := c.failoverTargets(b)
		leadersAt, writes := c.crashAndRecover(b, victim, probes)
		recovered := leadersAt
		var each []string
		for _, id := range slices.Sorted(maps.Keys(writes)) {
			recovered = max(recovered, writes[id])
			mark := ""
			if victimLed[id] {
				mark = " (victim led it)"
			}
			each = append(each, fmt.Sprintf("range %d%s written after %v", id, mark, writes[id].Round(time.Millisecond)))
		}
		b.Logf("killed %s, leader of %d of %d ranges: all led after %v; %s",
			victim.name, len(victimLed), len(probes), leadersAt.Round(time.Millisecond), strings.Join(each, ", "))
		recovers = append(recovers, recovered)
		leaders = append(leaders, leadersAt)
		ranges, led = len(probes), len(victimLed)

		b.StopTimer()
		c.restart(victim)
		c.settle(b, 120*time.Second, "placement after the restart")
		b.StartTimer()
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(mean(recovers)), "ms-to-recover")
	b.ReportMetric(ms(slices.Max(recovers)), "max-ms-to-recover")
	b.ReportMetric(ms(median(recovers)), "median-ms-to-recover")
	b.ReportMetric(100*float64(countBelow(recovers, 1500*time.Millisecond))/float64(len(recovers)), "pct-under-1.5s")
	b.ReportMetric(ms(mean(leaders)), "ms-to-leaders")
	b.ReportMetric(ms(slices.Max(leaders)), "max-ms-to-leaders")
	b.ReportMetric(float64(ranges), "ranges")
	b.ReportMetric(float64(led), "victim-led")
	suppressNsPerOp(b)
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// median is the middle value (the mean of the two middle ones for an even
// count).
func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func countBelow(ds []time.Duration, limit time.Duration) int {
	n := 0
	for _, d := range ds {
		if d < limit {
			n++
		}
	}
	return n
}

// failoverTargets picks the live node that leads the most ranges and one
// key in each range, keyed by range id. It also returns the ids of the
// ranges the node leads.
func (c *benchCluster) failoverTargets(b *testing.B) (*kvNode, map[uint64][]byte, map[uint64]bool) {
	views, err := c.tiledViews()
	if err != nil {
		b.Fatalf("before the crash: %v", err)
	}
	leads := make(map[*kvNode]int)
	for _, v := range views {
		leads[v.leader]++
	}
	var victim *kvNode
	for _, n := range c.live() {
		if victim == nil || leads[n] > leads[victim] {
			victim = n
		}
	}
	probes := make(map[uint64][]byte, len(views))
	for i := 0; len(probes) < len(views); i++ {
		if i > 1_000_000 {
			b.Fatalf("no key found for some of %d ranges", len(views))
		}
		key := fmt.Appendf(nil, "probe-%d", i)
		pos := victim.node.position(key)
		for _, v := range views {
			d := v.info.Descriptor
			if _, ok := probes[d.RangeId]; !ok && inArc(d.Start, d.End, pos) {
				probes[d.RangeId] = key
			}
		}
	}
	led := make(map[uint64]bool)
	for _, v := range views {
		if v.leader == victim {
			led[v.info.RangeID] = true
		}
	}
	return victim, probes, led
}

// crashAndRecover crashes victim (its host goes dark, its synced data is
// kept, then it stops without any goodbye) and returns, measured from the crash, when every range of
// probes first had a leader on a surviving node, and for each range when it
// accepted a write sent after the crash through a surviving node.
func (c *benchCluster) crashAndRecover(b *testing.B, victim *kvNode, probes map[uint64][]byte) (leadersAt time.Duration, writes map[uint64]time.Duration) {
	var survivors []*kvNode
	for _, n := range c.live() {
		if n != victim {
			survivors = append(survivors, n)
		}
	}
	crashed := time.Now()
	c.net.Crash(victim.ip)
	// The disk image is what the node had synced once it went dark: taken
	// before, it would miss entries the node synced and acknowledged in
	// between, and the restarted node would lack acknowledged log entries
	// (Raft then panics, rightly, on the leader's commit index).
	image := victim.fs.CrashClone(vfs.CrashCloneCfg{})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	writes = make(map[uint64]time.Duration, len(probes))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []error
	i := 0
	for id, key := range probes {
		via := survivors[i%len(survivors)].node
		i++
		wg.Add(1)
		go func() {
			defer wg.Done()
			at, err := writeUntilAccepted(ctx, via, key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, fmt.Errorf("range %d: %w", id, err))
				return
			}
			writes[id] = at.Sub(crashed)
		}()
	}
	leadersDone := make(chan time.Time, 1)
	go func() {
		leadersDone <- pollLeaders(ctx, survivors, probes)
	}()

	victim.node.shutdown(false)
	c.mu.Lock()
	victim.node, victim.fs = nil, image
	c.mu.Unlock()

	wg.Wait()
	at := <-leadersDone
	if len(failed) > 0 {
		b.Fatalf("writes after the crash never succeeded: %v", errors.Join(failed...))
	}
	if at.IsZero() {
		b.Fatalf("some range had no live leader %v after the crash", time.Since(crashed))
	}
	return at.Sub(crashed), writes
}

// writeUntilAccepted puts key through via until a put succeeds, and
// returns when it did. A put whose outcome is unknown (sent to the crashed
// leader) is simply sent again.
func writeUntilAccepted(ctx context.Context, via *Node, key []byte) (time.Time, error) {
	var last error
	for ctx.Err() == nil {
		_, err := via.Put(ctx, key, []byte("after the crash"))
		if err == nil {
			return time.Now(), nil
		}
		last = err
	}
	return time.Time{}, fmt.Errorf("no put accepted: %w", last)
}

// pollLeaders checks every 5 ms whether each range of probes has a leader
// among the survivors, by the leader's own account, and returns when that
// first held (the zero Time if ctx ended first).
func pollLeaders(ctx context.Context, survivors []*kvNode, probes map[uint64][]byte) time.Time {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		led := make(map[uint64]bool)
		for _, n := range survivors {
			for _, info := range n.node.store.Ranges() {
				if info.IsLeader {
					led[info.RangeID] = true
				}
			}
		}
		all := true
		for id := range probes {
			all = all && led[id]
		}
		if all {
			return time.Now()
		}
		select {
		case <-ctx.Done():
			return time.Time{}
		case <-tick.C:
		}
	}
}

// restart brings a crashed node back on its data, joining the live nodes.
func (c *benchCluster) restart(n *kvNode) {
	c.t.Helper()
	c.net.Restart(n.ip)
	c.start(n, c.seeds(n))
}

// Catch-up load: 100k keys of 1 KiB in PutMany batches of 500.
const (
	catchUpKeys      = 100_000
	catchUpValueSize = 1 << 10
	catchUpBatch     = 500
	catchUpLoaders   = 3
)

// BenchmarkNewReplicaCatchUp loads 100k keys of 1 KiB (random, so
// incompressible) into a three-node cluster with the default timings and
// each node's data on the real disk, then adds a node and measures the
// time from its Open until every range the placement rule gives it lists
// it as a voter and its replica has applied up to the leader's commit
// index, and until the whole placement is done (the replaced replicas
// removed, leadership on the preferred leaders). The new node leaves
// gracefully between iterations and the next iteration adds a fresh one.
func BenchmarkNewReplicaCatchUp(b *testing.B) {
	c := newBenchCluster(b, onDisk(b.TempDir()))
	for range 3 {
		c.add()
	}
	c.settle(b, 120*time.Second, "placement")
	loadStart := time.Now()
	c.load(b)
	loadTime := time.Since(loadStart)
	b.Logf("loaded %d keys of %d B in %v", catchUpKeys, catchUpValueSize, loadTime)
	c.settle(b, 120*time.Second, "placement after the load")

	var sumReplica, sumPlaced time.Duration
	var sumBytes int64
	var sumRanges int
	iters := 0
	for b.Loop() {
		start := time.Now()
		n := c.add()
		var ids []uint64
		replicaAt := poll(b, 300*time.Second, 20*time.Millisecond, "the new node a full replica", func() error {
			var err error
			ids, err = c.replicaError(n)
			return err
		})
		placedAt := poll(b, 300*time.Second, 20*time.Millisecond, "placement with the new node", c.localPlacementError)

		b.StopTimer()
		bytes, detail := c.heldBytes(b, n, ids)
		b.Logf("%s: full replica of %d ranges (%.1f MB; %s; %v snapshots received) after %v, placement done after %v",
			n.name, len(ids), float64(bytes)/1e6, strings.Join(detail, ", "), c.snapshotsReceived(b, n),
			replicaAt.Sub(start).Round(time.Millisecond), placedAt.Sub(start).Round(time.Millisecond))
		sumReplica += replicaAt.Sub(start)
		sumPlaced += placedAt.Sub(start)
		sumBytes += bytes
		sumRanges += len(ids)
		iters++
		c.leave(n)
		c.settle(b, 120*time.Second, "placement after the new node left")
		b.StartTimer()
	}
	k := float64(iters)
	b.ReportMetric(sumReplica.Seconds()/k, "s-to-replica")
	b.ReportMetric(sumPlaced.Seconds()/k, "s-to-placed")
	b.ReportMetric(float64(sumBytes)/1e6/k, "MB-received")
	b.ReportMetric(float64(sumBytes)/1e6/sumReplica.Seconds(), "MB/s")
	b.ReportMetric(float64(sumRanges)/k, "ranges-received")
	b.ReportMetric(float64(catchUpKeys*catchUpValueSize)/1e6/loadTime.Seconds(), "load-MB/s")
	suppressNsPerOp(b)
}

// load writes the catch-up data set through the live nodes, several
// batches at a time.
func (c *benchCluster) load(b *testing.B) {
	nodes := c.live()
	batches := make(chan int)
	errs := make(chan error, catchUpLoaders)
	var wg sync.WaitGroup
	for l := range catchUpLoaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.NewChaCha8([32]byte{byte(l)})
			via := nodes[l%len(nodes)].node
			for first := range batches {
				items := make([]PutItem, catchUpBatch)
				for i := range items {
					v := make([]byte, catchUpValueSize)
					_, _ = rng.Read(v)
					items[i] = PutItem{Key: fmt.Appendf(nil, "load-%06d", first+i), Value: v}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				_, err := via.PutMany(ctx, items)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("put_many at %d: %w", first, err)
					return
				}
			}
		}()
	}
	func() {
		defer close(batches)
		for first := 0; first < catchUpKeys; first += catchUpBatch {
			select {
			case batches <- first:
			case err := <-errs:
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	if err := errors.Join(collect(errs)...); err != nil {
		b.Fatalf("load: %v", err)
	}
}

func collect(errs <-chan error) []error {
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// heldBytes counts the user keys and values n's replicas of ranges ids
// hold: what it received to catch up. It fails b unless n holds exactly
// the loaded keys that fall in those ranges, and returns a line per range
// for the log.
func (c *benchCluster) heldBytes(b *testing.B, n *kvNode, ids []uint64) (int64, []string) {
	var total int64
	var lines []string
	for _, id := range ids {
		info, err := n.node.store.Range(id)
		if err != nil || info.Descriptor == nil {
			b.Fatalf("%s: range %d: %v", n.name, id, err)
		}
		d := info.Descriptor
		keys, bytes, _, err := n.node.engine.ArcStats(d.Start, d.End, 1<<40)
		if err != nil {
			b.Fatalf("%s: range %d: %v", n.name, id, err)
		}
		want := 0
		for i := range catchUpKeys {
			if inArc(d.Start, d.End, n.node.position(fmt.Appendf(nil, "load-%06d", i))) {
				want++
			}
		}
		if keys != int64(want) {
			b.Fatalf("%s: range %d holds %d keys, want %d", n.name, id, keys, want)
		}
		total += bytes
		lines = append(lines, fmt.Sprintf("range %d: %d keys, %.1f MB", id, keys, float64(bytes)/1e6))
	}
	return total, lines
}

// snapshotsReceived sums n's rangegroup snapshots_received_total counter.
func (c *benchCluster) snapshotsReceived(b *testing.B, n *kvNode) float64 {
	mfs, err := c.registry(n).Gather()
	if err != nil {
		b.Fatalf("%s: gather metrics: %v", n.name, err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "concord_rangegroup_snapshots_received_total" {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// hopsOpsPerNode is how many Puts, and then how many Leader Gets, each
// node's embedded API issues per iteration of BenchmarkHops.
const hopsOpsPerNode = 2000

// hopTally counts one kind of request and how the router served them.
// A request's hops are its attempts sent to another node: served by the
// local Store at the first attempt it took 0 hops, forwarded once 1, and
// every retry that went to another node adds one.
type hopTally struct {
	ops      int // requests issued
	failed   int // requests that returned an error (ErrNotFound is an answer)
	firstTry int // answered by the first node tried: no retry of any reason
	local    int // answered without any attempt leaving the node
	hops     int // attempts sent to other nodes
	retries  int // attempts after the first
}

func (t *hopTally) add(o hopTally) {
	t.ops += o.ops
	t.failed += o.failed
	t.firstTry += o.firstTry
	t.local += o.local
	t.hops += o.hops
	t.retries += o.retries
}

// routerCounts are a node's router counters, summed over their labels.
type routerCounts struct{ requests, retries, local, remote float64 }

func readRouterCounts(g prometheus.Gatherer) (routerCounts, error) {
	mfs, err := g.Gather()
	if err != nil {
		return routerCounts{}, fmt.Errorf("gather metrics: %w", err)
	}
	var rc routerCounts
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue()
			switch mf.GetName() {
			case "concord_router_requests_total":
				rc.requests += v
			case "concord_router_retries_total":
				rc.retries += v
			case "concord_router_forwards_total":
				for _, lp := range m.GetLabel() {
					switch {
					case lp.GetName() != "target":
					case lp.GetValue() == "local":
						rc.local += v
					case lp.GetValue() == "remote":
						rc.remote += v
					}
				}
			}
		}
	}
	return rc, nil
}

// BenchmarkHops measures, in a five-node cluster with the default timings
// in steady state (placement done, every range led by its preferred
// leader), how the embedded API routes requests: every node issues
// hopsOpsPerNode Puts and then as many Leader Gets of random keys, one at a
// time, the nodes concurrently. Each node's router counters (registered in
// the node's own registry, and counting only that node's API calls) are read
// around every request, so each request's retries and forwards are known
// exactly.
func BenchmarkHops(b *testing.B) {
	c := newBenchCluster(b, realDefaults)
	for range 5 {
		c.add()
	}
	c.settle(b, 180*time.Second, "placement")
	var puts, gets hopTally
	for iter := uint64(0); b.Loop(); iter++ {
		nodes := c.live()
		type result struct {
			puts, gets hopTally
			err        error
		}
		results := make([]result, len(nodes))
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(i), iter))
				r := &results[i]
				r.puts, r.err = c.hopRun(n, rng, false)
				if r.err == nil {
					r.gets, r.err = c.hopRun(n, rng, true)
				}
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.err != nil {
				b.Fatalf("%s: %v", nodes[i].name, r.err)
			}
			puts.add(r.puts)
			gets.add(r.gets)
		}
		if err := c.localPlacementError(); err != nil {
			b.Logf("placement no longer holds after the run: %v", err)
		} else {
			b.Logf("placement still holds after the run")
		}
	}
	var all hopTally
	all.add(puts)
	all.add(gets)
	pct := func(n, of int) float64 { return 100 * float64(n) / float64(of) }
	per := func(n, of int) float64 { return float64(n) / float64(of) }
	b.Logf("puts %+v", puts)
	b.Logf("gets %+v", gets)
	b.ReportMetric(pct(all.firstTry, all.ops), "first-try-%")
	b.ReportMetric(per(all.hops, all.ops), "hops/op")
	b.ReportMetric(per(all.retries, all.ops), "retries/op")
	b.ReportMetric(pct(all.local, all.ops), "local-%")
	b.ReportMetric(pct(puts.firstTry, puts.ops), "put-first-try-%")
	b.ReportMetric(pct(gets.firstTry, gets.ops), "get-first-try-%")
	b.ReportMetric(float64(all.failed), "failed")
	b.ReportMetric(float64(all.ops), "requests")
	suppressNsPerOp(b)
}

// hopRun issues hopsOpsPerNode Puts (or Leader Gets) of random keys through
// n and tallies how its router served each one.
func (c *benchCluster) hopRun(n *kvNode, rng *rand.Rand, get bool) (hopTally, error) {
	reg := c.registry(n)
	prev, err := readRouterCounts(reg)
	if err != nil {
		return hopTally{}, err
	}
	var t hopTally
	for range hopsOpsPerNode {
		key := fmt.Appendf(nil, "hops-%d", rng.IntN(100_000))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if get {
			_, err = n.node.Get(ctx, key, WithConsistency(Leader))
			if errors.Is(err, ErrNotFound) {
				err = nil
			}
		} else {
			_, err = n.node.Put(ctx, key, []byte("hops"))
		}
		cancel()
		cur, rerr := readRouterCounts(reg)
		if rerr != nil {
			return t, rerr
		}
		d := routerCounts{cur.requests - prev.requests, cur.retries - prev.retries, cur.local - prev.local, cur.remote - prev.remote}
		prev = cur
		if d.requests != 1 {
			return t, fmt.Errorf("the router counted %v requests for one call: something else uses it", d.requests)
		}
		t.ops++
		if err != nil {
			t.failed++
		}
		if err == nil && d.retries == 0 {
			t.firstTry++
		}
		if err == nil && d.remote == 0 {
			t.local++
		}
		t.hops += int(d.remote)
		t.retries += int(d.retries)
	}
	return t, nil
}
