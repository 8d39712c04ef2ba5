package rangegroup

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Store's Prometheus instruments. They exist (and count)
// whether or not they are registered anywhere.
type metrics struct {
	proposals        prometheus.Counter
	proposalsDropped prometheus.Counter
	reads            *prometheus.CounterVec
	readIndex        prometheus.Counter
	readyBatches     prometheus.Counter
	batchRanges      prometheus.Histogram
	syncDuration     prometheus.Histogram
	appliedEntries   prometheus.Counter
	snapshotsSent    *prometheus.CounterVec
	snapshotsRecv    *prometheus.CounterVec
	truncations      prometheus.Counter
	collected        prometheus.Counter
	leaderChanges    prometheus.Counter
	// commitLatency is the time from proposing a command at the leader to
	// its being applied there: what a write waits for in Raft.
	commitLatency prometheus.Histogram
	// snapshotBytes counts encoded snapshot chunks by direction (sent,
	// received), so operators see the bandwidth that catching up costs.
	snapshotBytes *prometheus.CounterVec
	// merges counts merges this node's leaders completed.
	merges prometheus.Counter
	// mergeParks counts applies that waited for this node's replica of a
	// range being merged to catch up.
	mergeParks prometheus.Counter
	// stagedApplied and stagedDropped count batches applied ahead of
	// their commit (stage.go) that were committed and that were dropped.
	stagedApplied, stagedDropped prometheus.Counter
	// quiesces and wakes count replicas entering and leaving quiescence.
	quiesces, wakes prometheus.Counter
	// messagesSent counts Raft messages handed to the transport (not
	// snapshots, not node pings).
	messagesSent prometheus.Counter
}

func newMetrics(store *Store, reg prometheus.Registerer) *metrics {
	const ns, sub = "concord", "rangegroup"
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &metrics{
		proposals:        counter("proposals_total", "Commands proposed to Raft by this node's leaders."),
		proposalsDropped: counter("proposals_dropped_total", "Proposals Raft refused (no leader, leadership transfer, too many uncommitted entries)."),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "reads_total",
			Help: "Reads served, by consistency level and how a leader read was served (lease or read index)."}, []string{"level"}),
		readIndex:    counter("read_index_requests_total", "ReadIndex rounds started; concurrent strong reads share one."),
		readyBatches: counter("ready_batches_total", "Batches of Raft entries and hard states written (one per worker pass that had any)."),
		batchRanges: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_ranges",
			Help: "Ranges whose Raft state shared one batch (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 8)}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "raft_persist_seconds",
			Help: "Time from the start of the worker pass that wrote a synced batch of Raft entries and hard states until the batch was durable.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		appliedEntries: counter("applied_entries_total", "Raft entries applied to the state machine."),
		snapshotsSent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "snapshots_sent_total",
			Help: "Range snapshots streamed to followers, by result."}, []string{"result"}),
		snapshotsRecv: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "snapshots_received_total",
			Help: "Range snapshots received, by result."}, []string{"result"}),
		truncations:   counter("log_truncations_total", "Raft log truncations."),
		collected:     counter("uninitialized_replicas_collected_total", "Replicas removed because they never received a snapshot."),
		leaderChanges: counter("leader_changes_total", "Leader changes seen by this node's replicas."),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_latency_seconds",
			Help: "Time from proposing a command at the leader to applying it there.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		snapshotBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "snapshot_bytes_total",
			Help: "Bytes of range snapshot chunks streamed, by direction (sent, received)."}, []string{"direction"}),
		merges:       counter("merges_total", "Range merges completed by this node's leaders."),
		mergeParks:   counter("merge_parks_total", "Applies of a merge that waited for this node's replica of the absorbed range to catch up."),
		quiesces:     counter("quiesces_total", "Replicas that stopped ticking because their range was idle."),
		wakes:        counter("quiescence_wakes_total", "Quiesced replicas woken by work, a message or their leader's node falling silent."),
		messagesSent: counter("messages_sent_total", "Raft messages handed to the transport (snapshots and node pings excluded)."),
	}
	staged := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "staged_applies_total",
		Help: "Batches of entries applied ahead of their commit on ranges led by their only voter, by outcome: committed, or dropped because the committed entries differed."}, []string{"outcome"})
	m.stagedApplied, m.stagedDropped = staged.WithLabelValues("committed"), staged.WithLabelValues("dropped")
	if reg != nil {
		reg.MustRegister(m.proposals, m.proposalsDropped, m.reads, m.readIndex, m.readyBatches, m.batchRanges,
			m.syncDuration, m.appliedEntries, m.snapshotsSent, m.snapshotsRecv, m.truncations, m.collected,
			m.leaderChanges, m.commitLatency, m.snapshotBytes, m.merges, m.mergeParks, staged, m.quiesces, m.wakes, m.messagesSent, rangesCollector{store})
	}
	return m
}

// rangesCollector reports how many replicas the Store holds, by role, at
// scrape time, so that nothing has to keep the gauges in step.
type rangesCollector struct{ s *Store }

var rangesDesc = prometheus.NewDesc("concord_rangegroup_replicas", "Range replicas on this node, by role.", []string{"role"}, nil)

var quiescedDesc = prometheus.NewDesc("concord_rangegroup_quiesced_replicas", "Range replicas on this node that are quiesced (idle, not ticking).", nil, nil)

func (c rangesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- rangesDesc
	ch <- quiescedDesc
}

func (c rangesCollector) Collect(ch chan<- prometheus.Metric) {
	var leaders, followers, uninitialized, quiesced float64
	for _, r := range c.s.replicaList() {
		r.mu.Lock()
		if r.quiescedLocked() {
			quiesced++
		}
		switch {
		case r.state == nil:
			uninitialized++
		case r.isLeaderLocked():
			leaders++
		default:
			followers++
		}
		r.mu.Unlock()
	}
	ch <- prometheus.MustNewConstMetric(rangesDesc, prometheus.GaugeValue, leaders, "leader")
	ch <- prometheus.MustNewConstMetric(rangesDesc, prometheus.GaugeValue, followers, "follower")
	ch <- prometheus.MustNewConstMetric(rangesDesc, prometheus.GaugeValue, uninitialized, "uninitialized")
	ch <- prometheus.MustNewConstMetric(quiescedDesc, prometheus.GaugeValue, quiesced)
}
