package concord

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/concord-kv/concord/api/adminpb"
	"github.com/concord-kv/concord/membership"
	"github.com/concord-kv/concord/rangegroup"
)

// statusKeyLimit bounds how many keys a status report counts per range.
const statusKeyLimit = 1 << 20

// statusPeerTimeout bounds each member's answer to a cluster status.
const statusPeerTimeout = 2 * time.Second

func registerAdmin(s *grpc.Server, n *Node) {
	adminpb.RegisterAdminServer(s, &adminServer{n: n})
}

type adminServer struct {
	adminpb.UnimplementedAdminServer
	n *Node
}

func (a *adminServer) Status(ctx context.Context, req *adminpb.StatusRequest) (*adminpb.StatusResponse, error) {
	return a.n.status(ctx, req.Cluster)
}

// status builds this node's report, and with cluster the merged report of
// every live member.
func (n *Node) status(ctx context.Context, cluster bool) (*adminpb.StatusResponse, error) {
	resp := &adminpb.StatusResponse{Node: n.name}
	rn := n.ringNode.Load()
	var peers []string
	if rn != nil {
		for _, m := range rn.Members().Members() {
			pm := &adminpb.Member{Name: m.Name, State: strings.ToLower(m.State.String())}
			if s, ok := ringServer(m); ok {
				pm.Address, pm.RingId = s.Address, s.Id
			}
			resp.Members = append(resp.Members, pm)
			if m.Name != n.name && m.State == membership.StateAlive && pm.Address != "" {
				peers = append(peers, pm.Address)
			}
		}
	}
	sort.Slice(resp.Members, func(i, j int) bool { return resp.Members[i].RingId < resp.Members[j].RingId })
	for _, info := range n.store.Ranges() {
		if r := n.rangeStatus(info); r != nil {
			resp.Ranges = append(resp.Ranges, r)
		}
	}
	if cluster {
		n.gatherStatus(ctx, resp, peers)
	}
	sort.Slice(resp.Ranges, func(i, j int) bool { return resp.Ranges[i].End < resp.Ranges[j].End })
	return resp, nil
}

// rangeStatus reports one local replica; nil while it is uninitialized.
func (n *Node) rangeStatus(info rangegroup.RangeInfo) *adminpb.Range {
	d := info.Descriptor
	if d == nil {
		return nil
	}
	r := &adminpb.Range{
		RangeId:      info.RangeID,
		Start:        d.Start,
		End:          d.End,
		Generation:   d.Generation,
		Leader:       info.Leader,
		AppliedIndex: info.AppliedIndex,
		ReportedBy:   n.name,
	}
	for _, rd := range d.Replicas {
		r.Replicas = append(r.Replicas, &adminpb.Replica{Node: rd.Node, ReplicaId: rd.ReplicaId, Type: strings.ToLower(rd.Type.String())})
	}
	keys, bytes, exact, err := n.engine.ArcStats(d.Start, d.End, statusKeyLimit)
	if err == nil {
		r.Keys, r.Bytes, r.KeysExact = keys, bytes, exact
	}
	return r
}

// gatherStatus asks every peer for its local report and keeps, for each
// range, the best-informed one: the leader's, else the newest descriptor.
func (n *Node) gatherStatus(ctx context.Context, resp *adminpb.StatusResponse, peers []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	best := make(map[uint64]*adminpb.Range)
	for _, r := range resp.Ranges {
		best[r.RangeId] = r
	}
	for _, addr := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, statusPeerTimeout)
			defer cancel()
			conn, err := n.pool.Conn(addr)
			var pr *adminpb.StatusResponse
			if err == nil {
				pr, err = adminpb.NewAdminClient(conn).Status(pctx, &adminpb.StatusRequest{})
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				resp.Unreachable = append(resp.Unreachable, addr)
				return
			}
			for _, r := range pr.Ranges {
				if cur, ok := best[r.RangeId]; !ok || better(r, cur) {
					best[r.RangeId] = r
				}
			}
		}()
	}
	wg.Wait()
	resp.Ranges = resp.Ranges[:0]
	for _, r := range best {
		resp.Ranges = append(resp.Ranges, r)
	}
	sort.Strings(resp.Unreachable)
}

// better reports whether report a describes its range better than b.
func better(a, b *adminpb.Range) bool {
	aLeads, bLeads := a.Leader == a.ReportedBy, b.Leader == b.ReportedBy
	if aLeads != bLeads {
		return aLeads
	}
	if a.Generation != b.Generation {
		return a.Generation > b.Generation
	}
	return a.AppliedIndex > b.AppliedIndex
}

// Status is the cluster as this node sees it: members and every range
// (asking the other members), as `concord-node status` prints it.
func (n *Node) Status(ctx context.Context) (*adminpb.StatusResponse, error) {
	return n.status(ctx, true)
}
