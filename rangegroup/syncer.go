package rangegroup

import (
	"errors"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/concord-kv/concord/storage"
)

// syncer is the Store's one goroutine that waits for persisted Raft
// batches to become durable and then delivers what Raft said must wait for
// that: each append's responses (its own MsgStorageAppendResp and
// MsgAppResp steps, votes and acknowledgements to peers).
//
// Raft runs with asynchronous storage writes, so a worker commits a pass's
// appends without waiting for the fsync and goes on with the next pass;
// several passes' batches can wait for one fsync. Invariants:
//   - appends are delivered in the order their batches were committed,
//     which is the order the write-ahead log makes them durable in, so no
//     response ever acknowledges a write that an earlier, still unsynced
//     batch holds;
//   - a response is delivered only after its batch is durable (batches
//     Raft does not require synced are delivered once everything before
//     them is);
//   - entries are applied only after Raft has stepped their append's
//     response, so nothing is applied ahead of the durable log here.
type syncer struct {
	s *Store

	mu    sync.Mutex
	cond  *sync.Cond
	queue []*pendingAppend
	// added and delivered count the appends queued and delivered so far.
	added, delivered uint64
	stopped          bool
	done             chan struct{}
}

// pendingAppend is one pass's persisted batch and the appends it holds.
type pendingAppend struct {
	// b is committed with CommitNoSyncWait when sync is set, and nil
	// otherwise (no write, or one Raft does not need synced).
	b       *storage.Batch
	sync    bool
	start   time.Time
	appends []appendDone
}

// appendDone is one range's append message in a pass.
type appendDone struct {
	r   *replica
	msg *raftpb.Message
}

func newSyncer(s *Store) *syncer {
	y := &syncer{s: s, done: make(chan struct{})}
	y.cond = sync.NewCond(&y.mu)
	go y.run()
	return y
}

// add queues a pass's appends behind every earlier one.
func (y *syncer) add(p *pendingAppend) {
	y.mu.Lock()
	y.queue = append(y.queue, p)
	y.added++
	y.cond.Broadcast()
	y.mu.Unlock()
}

// drain waits until every append queued so far is durable and delivered.
func (y *syncer) drain() {
	y.mu.Lock()
	for target := y.added; y.delivered < target; {
		y.cond.Wait()
	}
	y.mu.Unlock()
}

// stop delivers what is queued, then ends the goroutine. Workers must have
// stopped: nothing may be added afterwards.
func (y *syncer) stop() {
	y.mu.Lock()
	y.stopped = true
	y.cond.Broadcast()
	y.mu.Unlock()
	<-y.done
}

func (y *syncer) run() {
	defer close(y.done)
	for {
		y.mu.Lock()
		for len(y.queue) == 0 && !y.stopped {
			y.cond.Wait()
		}
		if len(y.queue) == 0 {
			y.mu.Unlock()
			return
		}
		batch := y.queue
		y.queue = nil
		y.mu.Unlock()

		// Each pass's appends are delivered as soon as its batch is
		// durable: a later batch taken in the same turn may need a later
		// fsync.
		var ids []uint64
		for _, p := range batch {
			if p.sync {
				if err := p.b.SyncWait(); err != nil {
					y.s.fatal(err)
				}
				y.s.metrics.syncDuration.Observe(time.Since(p.start).Seconds())
			}
			ids = ids[:0]
			for _, a := range p.appends {
				if y.s.deliverAppend(a) {
					ids = append(ids, a.r.rangeID)
				}
			}
			y.s.sched.enqueueAll(ids)
		}

		y.mu.Lock()
		y.delivered += uint64(len(batch))
		y.cond.Broadcast()
		y.mu.Unlock()
	}
}

// deliverAppend steps the responses of a durable append that are addressed
// to the replica itself and sends the others. It reports whether the
// replica is still live (and so has new work).
func (s *Store) deliverAppend(a appendDone) bool {
	r := a.r
	var remote []*raftpb.Message
	r.mu.Lock()
	r.appendsInFlight--
	r.appendsFull.Store(r.appendsInFlight >= maxAppendsInFlight)
	if r.destroyed {
		r.mu.Unlock()
		return false
	}
	for _, m := range a.msg.GetResponses() {
		if m.GetTo() != r.replicaID {
			remote = append(remote, m)
			continue
		}
		err := r.rn.Step(m)
		if err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
			s.cfg.Logger.Debug("raft step local response", "range", r.rangeID, "type", m.GetType(), "err", err)
		}
	}
	r.mu.Unlock()
	s.send(r, remote)
	return true
}
