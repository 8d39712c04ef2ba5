package rangegroup

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/transport/raftwire"
)

// Quiescence: an idle range costs nothing.
//
// A leader whose range has had nothing to do for quiesceAfterTicks ticks
// (every replica holds and has applied the whole log, nothing is proposed,
// read, transferred or streamed) sends its followers one last heartbeat
// marked with quiesceContext and stops ticking. A follower that receives it
// while caught up stops ticking too. Without ticks Raft sends nothing, so
// ten thousand idle ranges make no Raft traffic and no worker passes.
//
// Anything else wakes a replica: a proposal, a read that needs the leader,
// any Raft message but the quiesce heartbeat and its answer, or Raft having
// work of its own (a leadership transfer). A woken follower tells its leader
// with a heartbeat response, so that the leader ticks again and the
// follower's election timer is reset by heartbeats as usual rather than
// running out while the leader is silent.
//
// A quiesced leader cannot tell its followers it is alive through Raft, so
// each node pings the nodes its quiesced leaders' followers live on once a
// tick (one message per peer node, not per range; any message from a node
// counts too). A quiesced follower that has not heard from its leader's
// node for an election timeout wakes and ticks, and elects a new leader if
// the old one is gone.
//
// Safety does not depend on any of this: Raft's rules are unchanged, and a
// quiesced leader's read lease lapses (it rests on replies heard within
// half an election timeout), so leader reads take a ReadIndex round, which
// wakes the range.

// quiesceAfterTicks is how many ticks a leader's range must stay idle
// before it quiesces.
const quiesceAfterTicks = 3

// quiesceContext marks the heartbeat with which a leader quiesces its
// followers, and their answers (Raft echoes a heartbeat's context). Read
// index contexts are 8 bytes, so they never equal it.
var quiesceContext = []byte("concord:quiesce")

// quiesceState is a replica's part in quiescence. Fields are guarded by the
// replica's mu, except quiet, which the tick loop reads without it.
type quiesceState struct {
	// quiet is set while the replica is quiesced (it does not tick), and
	// nil otherwise.
	quiet atomic.Pointer[quietReplica]
	// idleTicks counts a leader's consecutive idle ticks.
	idleTicks int
}

// quietReplica is what the tick loop needs of a quiesced replica.
type quietReplica struct {
	leader bool
	// nodes are, for a leader, its followers' nodes, which it pings; for
	// a follower, its leader's node, whose silence wakes it.
	nodes []string
}

// isQuiesceMessage reports whether m is a quiesce heartbeat or its answer.
func isQuiesceMessage(m *raftpb.Message) bool {
	switch m.GetType() {
	case raftpb.MessageType_MsgHeartbeat, raftpb.MessageType_MsgHeartbeatResp:
		return bytes.Equal(m.GetContext(), quiesceContext)
	}
	return false
}

// quiescedLocked reports whether the replica is quiesced.
func (r *replica) quiescedLocked() bool { return r.q.quiet.Load() != nil }

// wakeLocked leaves quiescence because the range has work. A follower tells
// its leader, which may still be quiesced; the message is returned for the
// caller to send.
func (r *replica) wakeLocked() *raftpb.Message {
	r.q.idleTicks = 0
	if r.q.quiet.Swap(nil) == nil {
		return nil
	}
	r.store.metrics.wakes.Inc()
	if r.isLeaderLocked() || r.leaderID == 0 {
		return nil
	}
	return &raftpb.Message{
		Type: raftpb.MessageType_MsgHeartbeatResp.Enum(),
		To:   proto.Uint64(r.leaderID),
		From: proto.Uint64(r.replicaID),
		Term: proto.Uint64(r.term),
	}
}

// idleLocked reports whether a leader's range has nothing to do: no work
// waiting (hasWorkLocked), no proposal or read under way, no append in
// flight, every replica holds the whole log, which is committed and
// applied here, and no leadership transfer, snapshot or merge is under way.
func (r *replica) idleLocked() bool {
	if !r.isLeaderLocked() || r.state == nil || r.hasWorkLocked() || r.appendsInFlight > 0 || len(r.proposals) > 0 ||
		len(r.reads.inflight) > 0 || len(r.reads.waiting) > 0 || len(r.snapshotsOut) > 0 || r.snapshotIn != nil ||
		r.staged != nil || r.state.FrozenFor != 0 || r.rn.HasReady() {
		return false
	}
	st := r.rn.BasicStatus()
	last, err := r.log.LastIndex()
	if err != nil || st.LeadTransferee != 0 || st.HardState.GetCommit() != last || r.state.Index != last {
		return false
	}
	idle := true
	r.rn.WithProgress(func(_ uint64, _ raft.ProgressType, pr tracker.Progress) {
		idle = idle && pr.Match == last
	})
	return idle
}

// quiesceLocked quiesces a leader: one heartbeat marked quiesceContext to
// every follower, returned for the caller to send, and no more ticks.
func (r *replica) quiesceLocked() []*raftpb.Message {
	commit := r.rn.BasicStatus().HardState.GetCommit()
	var (
		msgs  []*raftpb.Message
		nodes []string
	)
	r.rn.WithProgress(func(id uint64, _ raft.ProgressType, _ tracker.Progress) {
		if id == r.replicaID {
			return
		}
		msgs = append(msgs, &raftpb.Message{
			Type:    raftpb.MessageType_MsgHeartbeat.Enum(),
			To:      proto.Uint64(id),
			From:    proto.Uint64(r.replicaID),
			Term:    proto.Uint64(r.term),
			Commit:  proto.Uint64(commit),
			Context: quiesceContext,
		})
		if n := r.peerNodeLocked(id); n != "" {
			nodes = append(nodes, n)
		}
	})
	r.q.quiet.Store(&quietReplica{leader: true, nodes: nodes})
	r.store.metrics.quiesces.Inc()
	return msgs
}

// maybeFollowLeaderIntoQuiescence quiesces a follower that has just stepped
// hb, a quiesce heartbeat, if it came from the leader this follower
// follows. It does not matter whether the follower holds the whole log: the
// leader quiesced only once every replica had acknowledged it.
func (r *replica) maybeFollowLeaderIntoQuiescence(hb *raftpb.Message) {
	st := r.rn.BasicStatus()
	if st.Lead != hb.GetFrom() || st.HardState.GetTerm() != hb.GetTerm() || st.Lead == r.replicaID {
		return
	}
	node := r.peerNodeLocked(hb.GetFrom())
	if node == "" {
		return
	}
	r.q.quiet.Store(&quietReplica{nodes: []string{node}})
	r.store.metrics.quiesces.Inc()
}

// hasWorkLocked reports whether the replica has work waiting outside Raft:
// buffered proposals, reads, or entries to apply that Raft did not hand
// over.
func (r *replica) hasWorkLocked() bool {
	if len(r.reads.pending) > 0 || len(r.parked) > 0 || (r.state != nil && r.forceApplyTo > r.state.Index) {
		return true
	}
	r.propMu.Lock()
	defer r.propMu.Unlock()
	return len(r.props.cmds) > 0
}

// tick gives every replica that is not quiesced a tick. Quiesced leaders
// ping their followers' nodes instead, and quiesced followers whose leader's
// node fell silent wake.
func (s *Store) tick() {
	defer s.tickRounds.Add(1)
	now := time.Now()
	pings := make(map[string]bool)
	var silent []*replica
	s.mu.RLock()
	ids := make([]uint64, 0, len(s.replicas))
	for id, r := range s.replicas {
		if qr := r.q.quiet.Load(); qr != nil {
			if qr.leader {
				for _, n := range qr.nodes {
					pings[n] = true
				}
				continue
			}
			if !s.heard.silent(qr.nodes[0], now, s.cfg.electionTimeout()) {
				continue
			}
			silent = append(silent, r)
		}
		r.inboxMu.Lock()
		r.ticks++
		r.inboxMu.Unlock()
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	for _, r := range silent {
		r.mu.Lock()
		m := r.wakeLocked()
		r.mu.Unlock()
		if m != nil {
			s.send(r, []*raftpb.Message{m})
		}
	}
	if s.cfg.Transport != nil {
		for n := range pings {
			s.cfg.Transport.Send(n, raftwire.Message{Msg: &raftpb.Message{}})
		}
	}
	s.sched.enqueueAll(ids)
}

// nodesHeard is when each peer node last sent this Store anything.
type nodesHeard struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (h *nodesHeard) note(node string, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		h.last = make(map[string]time.Time)
	}
	h.last[node] = at
}

// silent reports whether node has sent nothing for longer than d.
func (h *nodesHeard) silent(node string, now time.Time, d time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	at, ok := h.last[node]
	return !ok || now.Sub(at) > d
}

// inboxQuiescence is what a pass's inbox means for quiescence.
type inboxQuiescence struct {
	// busy: Raft had work before the inbox, or the inbox holds a message
	// other than heartbeats and their answers.
	busy bool
	// keepalive: the last heartbeat (or answer) is an ordinary one.
	keepalive bool
	// quiesceHB is the leader's quiesce heartbeat, when it is the last.
	quiesceHB *raftpb.Message
}

// inboxQuiescenceLocked classifies inbox before it is stepped.
func (r *replica) inboxQuiescenceLocked(inbox []inboundMessage) inboxQuiescence {
	q := inboxQuiescence{busy: r.rn.HasReady()}
	for i := range inbox {
		m := inbox[i].msg
		if m.GetTo() != r.replicaID {
			continue
		}
		switch t := m.GetType(); {
		case isQuiesceMessage(m):
			if t == raftpb.MessageType_MsgHeartbeat {
				q.quiesceHB, q.keepalive = m, false
			}
		case t == raftpb.MessageType_MsgHeartbeat || t == raftpb.MessageType_MsgHeartbeatResp:
			q.quiesceHB, q.keepalive = nil, true
		default:
			q.busy = true
		}
	}
	return q
}

// tickOrQuiesceLocked runs after the inbox is stepped: work, or an
// ordinary heartbeat while quiesced, wakes the replica; the leader's
// quiesce heartbeat quiesces a follower; a tick (tick is set) is stepped
// into Raft unless the replica is quiesced, or its range has now been idle
// long enough to quiesce. It returns messages to send.
func (r *replica) tickOrQuiesceLocked(q inboxQuiescence, tick bool) []*raftpb.Message {
	var out []*raftpb.Message
	switch {
	case q.busy || r.hasWorkLocked() || (q.keepalive && r.quiescedLocked()):
		if m := r.wakeLocked(); m != nil {
			out = append(out, m)
		}
	case q.quiesceHB != nil:
		r.maybeFollowLeaderIntoQuiescence(q.quiesceHB)
	}
	if !tick || r.quiescedLocked() {
		return out
	}
	if r.idleLocked() {
		r.q.idleTicks++
	} else {
		r.q.idleTicks = 0
	}
	if r.q.idleTicks >= quiesceAfterTicks {
		return append(out, r.quiesceLocked()...)
	}
	r.rn.Tick()
	return out
}
