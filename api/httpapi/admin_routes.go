package httpapi

import (
	"fmt"
	"net/http"

	"github.com/concord-kv/concord"
)

// statusDoc is concord.KV.Status as JSON: the node answering, the members
// and every range as this node sees them.
type statusDoc struct {
	Node        string      `json:"node"`
	Members     []memberDoc `json:"members"`
	Ranges      []rangeDoc  `json:"ranges"`
	Unreachable []string    `json:"unreachable"`
}

// memberDoc is one member of the cluster; RingID is a ring position, a
// string for the reason rangeDoc gives.
type memberDoc struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	RingID  string `json:"ring_id"`
	State   string `json:"state"`
}

// rangeDoc is one range: the arc (start, end] of ring positions. Ring
// positions are strings because they use all 64 bits, more than a JSON
// number carries exactly.
type rangeDoc struct {
	RangeID      uint64       `json:"range_id"`
	Start        string       `json:"start"`
	End          string       `json:"end"`
	Generation   uint64       `json:"generation"`
	Leader       string       `json:"leader"`
	Replicas     []replicaDoc `json:"replicas"`
	AppliedIndex uint64       `json:"applied_index"`
	Keys         int64        `json:"keys"`
	Bytes        int64        `json:"bytes"`
	KeysExact    bool         `json:"keys_exact"`
	ReportedBy   string       `json:"reported_by"`
}

// replicaDoc is one replica of a range.
type replicaDoc struct {
	Node      string `json:"node"`
	ReplicaID uint64 `json:"replica_id"`
	Type      string `json:"type"`
}

// status reports the cluster as this node sees it.
func (s *server) status(r *http.Request) (any, error) {
	st, err := s.kv.Status(r.Context())
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("status: no answer")
	}
	out := statusDoc{Node: st.GetNode(), Members: []memberDoc{}, Ranges: []rangeDoc{}, Unreachable: append([]string{}, st.GetUnreachable()...)}
	for _, m := range st.GetMembers() {
		out.Members = append(out.Members, memberDoc{Name: m.GetName(), Address: m.GetAddress(), RingID: fmt.Sprint(m.GetRingId()), State: m.GetState()})
	}
	for _, g := range st.GetRanges() {
		d := rangeDoc{
			RangeID: g.GetRangeId(), Start: fmt.Sprint(g.GetStart()), End: fmt.Sprint(g.GetEnd()),
			Generation: g.GetGeneration(), Leader: g.GetLeader(), Replicas: []replicaDoc{},
			AppliedIndex: g.GetAppliedIndex(), Keys: g.GetKeys(), Bytes: g.GetBytes(),
			KeysExact: g.GetKeysExact(), ReportedBy: g.GetReportedBy(),
		}
		for _, rep := range g.GetReplicas() {
			d.Replicas = append(d.Replicas, replicaDoc{Node: rep.GetNode(), ReplicaID: rep.GetReplicaId(), Type: rep.GetType()})
		}
		out.Ranges = append(out.Ranges, d)
	}
	return out, nil
}

// health answers as long as the process serves HTTP.
func (s *server) health(*http.Request) (any, error) {
	return map[string]bool{"alive": true}, nil
}

// ready asks Options.Ready; not ready is 503 (unavailable) with the
// reason as the message.
func (s *server) ready(r *http.Request) (any, error) {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(r.Context()); err != nil {
			return nil, fmt.Errorf("%w: not ready: %w", concord.ErrUnavailable, err)
		}
	}
	return map[string]bool{"ready": true}, nil
}
