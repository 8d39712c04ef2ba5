package rangegroup

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/rangegroup/rgpb"
)

// sweepLoop periodically has every range this node leads propose the
// deletion of its expired keys. Reads hide expired keys at once; the sweep
// reclaims their space and turns each expiry into a delete in the log,
// which replicas and watchers see alike. It scans each led range's keys,
// one batch of at most MaxBatchItems per range per round.
func (s *Store) sweepLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-t.C:
		}
		for _, r := range s.replicaList() {
			r.sweep()
		}
	}
}

// sweep proposes one SweepRequest for the replica's expired keys if it
// leads its range. Nobody waits for it: a lost sweep is redone next round.
func (r *replica) sweep() {
	r.mu.Lock()
	if r.destroyed || !r.isLeaderLocked() || r.state == nil || r.state.FrozenFor != 0 {
		r.mu.Unlock()
		return
	}
	arc := arcOf(r.state.Descriptor_)
	now := r.stampLocked()
	r.mu.Unlock()

	m := r.store.cfg.Machine
	view := r.store.cfg.Engine.NewReadView()
	items, err := m.Expired(view, arc, now, m.Limits.MaxBatchItems)
	_ = view.Close()
	if err != nil {
		r.store.cfg.Logger.Warn("scan for expired keys", "range", r.rangeID, "err", err)
		return
	}
	if len(items) == 0 {
		return
	}
	req, err := proto.Marshal(&kvpb.Request{Op: &kvpb.Request_Sweep{Sweep: &kvpb.SweepRequest{Items: items}}})
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.destroyed || !r.isLeaderLocked() {
		return
	}
	data, err := proto.Marshal(&rgpb.Command{Stamp: r.stampLocked(), Op: &rgpb.Command_Kv{Kv: req}})
	if err != nil {
		return
	}
	if err := r.rn.Propose(data); err == nil {
		r.store.sched.enqueue(r.rangeID)
	}
}
