package rangegroup

// Benchmarks of the Store on real disks (b.TempDir is on the machine's
// filesystem, so every synced batch is a real fsync). The results, the
// commands that produced them and a profile of the write path are in
// docs/benchmarks.md ("Multi-raft engine"):
//
//	go test -run '^$' -bench SyncedWrites -benchtime 2s -count 5 ./rangegroup/
//	go test -run '^$' -bench ThreeNodes -benchtime 2s -count 5 ./rangegroup/
//
// Every benchmark reports, besides ns/op (wall time divided by operations,
// so the inverse of throughput), ops/s and the p50 and p99 latency of one
// operation in microseconds. Write benchmarks on the Store also report
// batches/op and persist-µs from the Store's metrics (see benchPersisted).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/storage/storagepb"
	"github.com/concord-kv/concord/transport"
	"github.com/concord-kv/concord/transport/raftwire"
)

// benchValueSize is the value of every put.
const benchValueSize = 100

// benchOpTimeout bounds one operation; a benchmark fails rather than hangs
// when the Store stops making progress.
const benchOpTimeout = 30 * time.Second

// BenchmarkSyncedWrites compares the Store's write path on one node (one
// range over the whole circle) with a raw Pebble loop of one-key synced
// batches, at the same number of concurrent writers. Each put writes a key
// no other put writes. The store and pebble runs for one writer count run
// back to back so that their ratio compares like with like on a machine
// whose load drifts.
func BenchmarkSyncedWrites(b *testing.B) {
	value := make([]byte, benchValueSize)
	for _, writers := range []int{1, 16, 64, 256} {
		// Each side is set up on its first call (a sub-benchmark's
		// function runs once per b.N tried) and only if the -bench
		// pattern selects it.
		var st *benchNode
		b.Run(fmt.Sprintf("store/writers=%d", writers), func(sb *testing.B) {
			if st == nil {
				st = newBenchStore(sb, b.TempDir())
			}
			before := benchPersistStats(st.store)
			benchWorkers(sb, writers, func(ctx context.Context, worker int, seq int64) error {
				_, err := st.store.Write(ctx, 1, benchPut(benchKey(worker, seq), value))
				return err
			})
			benchPersistStats(st.store).report(sb, before)
		})
		if st != nil {
			st.close()
		}

		var db *pebble.DB
		b.Run(fmt.Sprintf("pebble/writers=%d", writers), func(sb *testing.B) {
			if db == nil {
				db = openBenchPebble(sb, b.TempDir())
			}
			benchWorkers(sb, writers, func(_ context.Context, worker int, seq int64) error {
				batch := db.NewBatch()
				defer batch.Close()
				if err := batch.Set(benchKey(worker, seq), value, nil); err != nil {
					return err
				}
				return batch.Commit(pebble.Sync)
			})
		})
		if db != nil {
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkThreeNodes runs writes and reads at each consistency level on a
// range replicated on three in-process nodes (in-memory network, engines on
// disk), with 64 concurrent clients. Writes and strong and leader reads go
// to the leader; eventual reads are spread over the three replicas.
func BenchmarkThreeNodes(b *testing.B) {
	const clients, keys = 64, 1000
	value := make([]byte, benchValueSize)
	// The cluster is built by the first sub-benchmark the -bench pattern
	// selects and shared by the rest.
	var (
		c  *benchCluster
		ld *benchNode
	)
	setup := func(sb *testing.B) {
		if c == nil {
			c = newBenchCluster(sb, b.TempDir, 3)
			ld = c.leader(1)
			c.preload(ld, keys, value)
		}
	}
	defer func() {
		if c != nil {
			c.close()
		}
	}()

	b.Run("write", func(b *testing.B) {
		setup(b)
		before := benchPersistStats(ld.store)
		benchWorkers(b, clients, func(ctx context.Context, worker int, seq int64) error {
			_, err := ld.store.Write(ctx, 1, benchPut(benchKey(worker, seq), value))
			return err
		})
		benchPersistStats(ld.store).report(b, before)
	})
	reads := []struct {
		name   string
		level  Consistency
		spread bool // eventual reads go to every replica, the rest to the leader
	}{
		{"read-strong", Strong, false},
		{"read-leader", Leader, false},
		{"read-eventual", Eventual, true},
	}
	for _, rd := range reads {
		b.Run(rd.name, func(b *testing.B) {
			setup(b)
			benchWorkers(b, clients, func(ctx context.Context, worker int, seq int64) error {
				nd := ld
				if rd.spread {
					nd = c.nodes[worker%len(c.nodes)]
				}
				key := fmt.Appendf(nil, "key-%05d", seq%keys)
				resp, err := nd.store.Read(ctx, 1, rd.level, &kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: key}}})
				if err != nil {
					return err
				}
				if resp.GetCode() != kvpb.ErrorCode_OK {
					return fmt.Errorf("get %s at %s: %v %s", key, nd.name, resp.GetCode(), resp.GetMessage())
				}
				return nil
			})
		})
	}
}

// benchWorkers calls op b.N times in total from exactly n goroutines, timing
// each call, and reports ops/s and the p50 and p99 latency. The first error
// fails the benchmark.
func benchWorkers(b *testing.B, n int, op func(ctx context.Context, worker int, seq int64) error) {
	b.Helper()
	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	lat := make([][]time.Duration, n)
	b.ResetTimer()
	for w := range n {
		wg.Go(func() {
			lat[w] = make([]time.Duration, 0, b.N/n+1)
			for {
				seq := next.Add(1)
				if seq > int64(b.N) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), benchOpTimeout)
				start := time.Now()
				err := op(ctx, w, seq)
				lat[w] = append(lat[w], time.Since(start))
				cancel()
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("worker %d, op %d: %w", w, seq, err) })
					next.Store(int64(b.N)) // stop everyone
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(benchMicros(benchPercentile(all, 0.50)), "p50-µs")
	b.ReportMetric(benchMicros(benchPercentile(all, 0.99)), "p99-µs")
}

// benchPersisted is a Store's count of Raft persist batches and their total
// duration, from its metrics. A worker writes one batch per pass, shared by
// every range it handled; the batch is synced when it holds entries or a
// new term or vote (a pass that only advances the commit index is not).
type benchPersisted struct {
	batches float64
	seconds float64
}

func benchPersistStats(st *Store) benchPersisted {
	var m dto.Metric
	if err := st.metrics.syncDuration.Write(&m); err != nil {
		panic(err) // a histogram always writes
	}
	return benchPersisted{batches: float64(m.GetHistogram().GetSampleCount()), seconds: m.GetHistogram().GetSampleSum()}
}

// report adds the synced batches benchPersisted since before as
// batches/op (group commit shares one batch among 1/(batches/op) writes)
// and persist-µs (the mean time from the start of the pass that wrote a
// batch until it was durable).
func (p benchPersisted) report(b *testing.B, before benchPersisted) {
	n := p.batches - before.batches
	b.ReportMetric(n/float64(b.N), "batches/op")
	if n > 0 {
		b.ReportMetric((p.seconds-before.seconds)/n*1e6, "persist-µs")
	}
}

// benchPercentile returns the q-quantile of sorted (nearest rank).
func benchPercentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func benchMicros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// benchKey names the seq-th put of a worker: no two puts share a key.
func benchKey(worker int, seq int64) []byte {
	return fmt.Appendf(nil, "w%03d-%010d", worker, seq)
}

func benchPut(key, value []byte) *kvpb.Request {
	return &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: key, Value: value}}}
}

// benchDescriptor describes range id covering every position, with one voter
// on each named node.
func benchDescriptor(id uint64, nodes ...string) *storagepb.RangeDescriptor {
	d := &storagepb.RangeDescriptor{RangeId: id, Generation: 1, NextReplicaId: uint64(len(nodes) + 1)}
	for i, n := range nodes {
		d.Replicas = append(d.Replicas, &storagepb.ReplicaDescriptor{Node: n, ReplicaId: uint64(i + 1), Type: storagepb.ReplicaType_VOTER})
	}
	return d
}

// openBenchPebble opens a plain Pebble database on a real directory.
func openBenchPebble(b *testing.B, dir string) *pebble.DB {
	b.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: benchPebbleLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// benchNode is one Store with its engine on disk; the transport and gRPC
// server are nil on a single-node Store. close stops whatever part of it
// was started.
type benchNode struct {
	name   string
	engine *storage.Engine
	store  *Store
	wire   *raftwire.Transport
	server *grpc.Server
}

// newBenchStore starts a single-node Store on a fresh disk directory with
// range 1 over the whole circle, and waits until it leads the range.
func newBenchStore(b *testing.B, dir string) *benchNode {
	b.Helper()
	nd := &benchNode{name: "n1"}
	ok := false
	defer func() {
		if !ok { // b.Fatal below: stop what started
			nd.close()
		}
	}()
	nd.start(b, dir)
	if err := nd.store.CreateRange(benchDescriptor(1, "n1")); err != nil {
		b.Fatal(err)
	}
	(&benchCluster{b: b, nodes: []*benchNode{nd}}).leader(1)
	ok = true
	return nd
}

// start opens an engine in dir and starts a Store on it, with nd.wire as
// its transport (nil for a single-node Store).
func (nd *benchNode) start(b *testing.B, dir string) {
	b.Helper()
	eng, err := storage.Open(dir, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	nd.engine = eng
	cfg := Config{
		NodeName: nd.name,
		Engine:   eng,
		Machine:  &kv.Machine{Limits: kv.DefaultLimits(), Position: testPosition},
	}
	if nd.wire != nil {
		cfg.Transport = nd.wire
	}
	if nd.store, err = NewStore(cfg); err != nil {
		b.Fatal(err)
	}
}

func (nd *benchNode) close() {
	if nd.store != nil {
		_ = nd.store.Close()
	}
	if nd.wire != nil {
		_ = nd.wire.Close()
	}
	if nd.server != nil {
		nd.server.Stop()
	}
	if nd.engine != nil {
		_ = nd.engine.Close()
	}
}

// benchCluster is a few Stores on an in-memory network with their engines
// on disk. Unlike the tests' testCluster it never restarts a node, so each
// transport delivers straight to its Store.
type benchCluster struct {
	b     *testing.B
	nodes []*benchNode
}

// benchHandler hands a transport's deliveries to a Store created after the
// transport (the Store needs the transport to exist first). Deliveries
// before the Store is set are dropped; Raft retries them.
type benchHandler struct{ p atomic.Pointer[Store] }

func (s *benchHandler) HandleMessages(from string, msgs []raftwire.Message) {
	if st := s.p.Load(); st != nil {
		st.HandleMessages(from, msgs)
	}
}

func (s *benchHandler) HandleSnapshot(ctx context.Context, from string, header []byte, next func() ([]byte, error)) error {
	st := s.p.Load()
	if st == nil {
		return ErrStopped
	}
	return st.HandleSnapshot(ctx, from, header, next)
}

// newBenchCluster starts n nodes, each with its engine in a directory
// from tempDir, and creates range 1 over the whole circle with a voter on
// each.
func newBenchCluster(b *testing.B, tempDir func() string, n int) *benchCluster {
	b.Helper()
	mem := transport.NewMemNetwork(1)
	c := &benchCluster{b: b}
	// Every address is known before any transport can resolve one, so the
	// map is read-only once the nodes start.
	addrs := make(map[string]string, n)
	names := make([]string, n)
	hosts := make([]transport.Network, n)
	listeners := make([]net.Listener, n)
	for i := range n {
		names[i] = fmt.Sprintf("n%d", i+1)
		ip := fmt.Sprintf("127.0.2.%d", i+1)
		hosts[i] = mem.Host(ip)
		l, err := hosts[i].Listen(ip + ":0")
		if err != nil {
			b.Fatal(err)
		}
		listeners[i] = l
		addrs[names[i]] = l.Addr().String()
	}
	resolve := func(node string) (string, bool) {
		a, ok := addrs[node]
		return a, ok
	}
	ok := false
	defer func() {
		if !ok { // b.Fatal below: stop what started
			c.close()
		}
	}()
	for i, name := range names {
		slot := &benchHandler{}
		wire, err := raftwire.New(raftwire.Config{Node: name, Network: hosts[i], Resolve: resolve, Handler: slot})
		if err != nil {
			b.Fatal(err)
		}
		nd := &benchNode{name: name, wire: wire, server: transport.NewServer(nil)}
		c.nodes = append(c.nodes, nd)
		wire.Register(nd.server)
		go func() { _ = nd.server.Serve(listeners[i]) }()
		nd.start(b, tempDir())
		slot.p.Store(nd.store)
	}
	for _, nd := range c.nodes {
		if err := nd.store.CreateRange(benchDescriptor(1, names...)); err != nil {
			b.Fatal(err)
		}
	}
	ok = true
	return c
}

func (c *benchCluster) close() {
	for _, nd := range c.nodes {
		nd.close()
	}
}

// leader waits until some node leads the range and returns it.
func (c *benchCluster) leader(rangeID uint64) *benchNode {
	c.b.Helper()
	var found *benchNode
	await.Until(c.b, 30*time.Second, fmt.Sprintf("a leader of range %d", rangeID), func() error {
		for _, nd := range c.nodes {
			if info, err := nd.store.Range(rangeID); err == nil && info.IsLeader {
				found = nd
				return nil
			}
		}
		return errors.New("no leader yet")
	})
	return found
}

// preload writes key-00000 ... through the leader and waits until every
// replica has applied them, so that reads at any level find every key.
func (c *benchCluster) preload(ld *benchNode, keys int, value []byte) {
	c.b.Helper()
	const perBatch = 500
	order := rand.Perm(keys)
	for start := 0; start < keys; start += perBatch {
		pm := &kvpb.PutManyRequest{}
		for _, i := range order[start:min(start+perBatch, keys)] {
			pm.Items = append(pm.Items, &kvpb.PutRequest{Key: fmt.Appendf(nil, "key-%05d", i), Value: value})
		}
		ctx, cancel := context.WithTimeout(context.Background(), benchOpTimeout)
		resp, err := ld.store.Write(ctx, 1, &kvpb.Request{Op: &kvpb.Request_PutMany{PutMany: pm}})
		cancel()
		if err != nil || resp.GetCode() != kvpb.ErrorCode_OK {
			c.b.Fatalf("preload: %v %v", resp.GetCode(), err)
		}
	}
	info, err := ld.store.Range(1)
	if err != nil {
		c.b.Fatal(err)
	}
	await.Until(c.b, 30*time.Second, "every replica applied the preload", func() error {
		for _, nd := range c.nodes {
			got, err := nd.store.Range(1)
			if err != nil {
				return err
			}
			if got.AppliedIndex < info.AppliedIndex {
				return fmt.Errorf("%s applied %d of %d", nd.name, got.AppliedIndex, info.AppliedIndex)
			}
		}
		return nil
	})
}

// benchPebbleLogger drops Pebble's informational logging ("Found 0
// WALs"), which would interleave with the benchmark lines, and keeps its
// errors.
type benchPebbleLogger struct{}

func (benchPebbleLogger) Infof(string, ...any) {}
func (benchPebbleLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (benchPebbleLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

// BenchmarkIdleRanges measures what idle ranges cost: three in-process
// nodes (in-memory network, engines on disk) with 1,000 or 10,000 ranges
// replicated on all of them, after every range went idle. It reports the
// Raft messages the three nodes send per second and the process's CPU time
// per second of wall time; b.N is ticks waited.
func BenchmarkIdleRanges(b *testing.B) {
	for _, ranges := range []uint64{1000, 10000} {
		b.Run(fmt.Sprintf("ranges=%d", ranges), func(b *testing.B) { benchIdleRanges(b, ranges) })
	}
}

func benchIdleRanges(b *testing.B, ranges uint64) {
	c := newBenchCluster(b, b.TempDir, 3)
	defer c.close()
	step := math.MaxUint64/ranges + 1
	for i := range ranges - 1 { // range 1 covers the rest
		d := benchDescriptor(i+2, "n1", "n2", "n3")
		d.Start, d.End = i*step, (i+1)*step
		for _, nd := range c.nodes {
			if err := nd.store.CreateRange(d); err != nil {
				b.Fatal(err)
			}
		}
	}
	await.Until(b, 5*time.Minute, "every range has a leader and went idle", func() error {
		var idle float64
		for _, nd := range c.nodes {
			idle += benchGauge(b, nd.store, "concord_rangegroup_quiesced_replicas")
		}
		if idle < float64(3*ranges) {
			return fmt.Errorf("%v of %d replicas quiesced", idle, 3*ranges)
		}
		return nil
	})
	sent := func() (n float64) {
		for _, nd := range c.nodes {
			n += testutil.ToFloat64(nd.store.metrics.messagesSent)
		}
		return n
	}
	st := c.nodes[0].store
	msgs, ticks, cpu, start := sent(), st.tickRounds.Load(), benchCPU(b), time.Now()
	b.ResetTimer()
	await.Until(b, time.Duration(b.N+10)*st.cfg.TickInterval*10, "ticks", func() error {
		if n := st.tickRounds.Load() - ticks; n < uint64(b.N) {
			return fmt.Errorf("%d of %d ticks", n, b.N)
		}
		return nil
	})
	b.StopTimer()
	wall := time.Since(start).Seconds()
	b.ReportMetric((sent()-msgs)/wall, "msgs/s")
	b.ReportMetric((benchCPU(b)-cpu).Seconds()*1000/wall, "cpu-ms/s")
}

// benchGauge reads an unlabelled gauge of the Store's metrics.
func benchGauge(b *testing.B, st *Store, name string) float64 {
	b.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(rangesCollector{st})
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	b.Fatalf("no gauge %s", name)
	return 0
}

// benchCPU is the process's user and system CPU time so far.
func benchCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
