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
	"github.com/concord-kv/concord/ring"
)

// statusKeyLimit bounds how many keys a status report counts per range.
const statusKeyLimit = 1 << 20

// statusPeerTimeout bounds each member's answer to a cluster-wide report.
const statusPeerTimeout = 2 * time.Second

func registerAdmin(s *grpc.Server, n *Node) {
	adminpb.RegisterAdminServer(s, &adminServer{n: n})
}

type adminServer struct {
	adminpb.UnimplementedAdminServer
	n *Node
}

func (a *adminServer) Status(ctx context.Context, req *adminpb.StatusRequest) (*adminpb.StatusResponse, error) {
	return a.n.status(ctx, req.GetCluster())
}

func (a *adminServer) Members(ctx context.Context, req *adminpb.MembersRequest) (*adminpb.MembersResponse, error) {
	members, _ := a.n.memberList()
	return &adminpb.MembersResponse{Node: a.n.name, Members: members}, nil
}

func (a *adminServer) Ring(ctx context.Context, req *adminpb.RingRequest) (*adminpb.RingResponse, error) {
	return a.n.ringReport(ctx, !req.GetLocal()), nil
}

func (a *adminServer) Ranges(ctx context.Context, req *adminpb.RangesRequest) (*adminpb.RangesResponse, error) {
	return a.n.rangesReport(ctx, !req.GetLocal()), nil
}

// memberList returns the gossip members ordered by ring id, and the
// addresses of the live ones other than this node (the peers a
// cluster-wide report asks).
func (n *Node) memberList() (members []*adminpb.Member, peers []string) {
	rn := n.ringNode.Load()
	if rn == nil {
		return nil, nil
	}
	for _, m := range rn.Members().Members() {
		pm := &adminpb.Member{Name: m.Name, State: strings.ToLower(m.State.String())}
		if s, ok := ringServer(m); ok {
			pm.Address, pm.RingId = s.Address, s.Id
		}
		members = append(members, pm)
		if m.Name != n.name && m.State == membership.StateAlive && pm.Address != "" {
			peers = append(peers, pm.Address)
		}
	}
	sort.Slice(members, func(i, j int) bool { return members[i].RingId < members[j].RingId })
	return members, peers
}

// status builds this node's report, and with cluster the merged report of
// every live member.
func (n *Node) status(ctx context.Context, cluster bool) (*adminpb.StatusResponse, error) {
	resp := &adminpb.StatusResponse{Node: n.name}
	var peers []string
	resp.Members, peers = n.memberList()
	resp.Ranges = n.localRanges(true)
	if cluster {
		resp.Ranges, resp.Unreachable = n.gatherRanges(ctx, resp.Ranges, peers, func(ctx context.Context, c adminpb.AdminClient) ([]*adminpb.Range, error) {
			pr, err := c.Status(ctx, &adminpb.StatusRequest{})
			return pr.GetRanges(), err
		})
	}
	sortRanges(resp.Ranges)
	return resp, nil
}

// rangesReport lists the ranges this node has replicas of, and with
// cluster every range of the cluster, without key statistics.
func (n *Node) rangesReport(ctx context.Context, cluster bool) *adminpb.RangesResponse {
	resp := &adminpb.RangesResponse{Node: n.name, Ranges: n.localRanges(false)}
	if cluster {
		_, peers := n.memberList()
		resp.Ranges, resp.Unreachable = n.gatherRanges(ctx, resp.Ranges, peers, func(ctx context.Context, c adminpb.AdminClient) ([]*adminpb.Range, error) {
			pr, err := c.Ranges(ctx, &adminpb.RangesRequest{Local: true})
			return pr.GetRanges(), err
		})
	}
	sortRanges(resp.Ranges)
	return resp
}

// localRanges reports this node's initialized replicas; withStats counts
// their keys and bytes (a scan of the range's span, up to statusKeyLimit
// keys).
func (n *Node) localRanges(withStats bool) []*adminpb.Range {
	var out []*adminpb.Range
	for _, info := range n.store.Ranges() {
		if r := n.rangeStatus(info, withStats); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// rangeStatus reports one local replica; nil while it is uninitialized.
func (n *Node) rangeStatus(info rangegroup.RangeInfo, withStats bool) *adminpb.Range {
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
	if info.Leader != "" {
		r.LeaderAddress, _ = n.resolve(info.Leader)
	}
	for _, rd := range d.Replicas {
		addr, _ := n.resolve(rd.Node)
		r.Replicas = append(r.Replicas, &adminpb.Replica{Node: rd.Node, ReplicaId: rd.ReplicaId, Type: strings.ToLower(rd.Type.String()), Address: addr})
	}
	if withStats {
		keys, bytes, exact, err := n.engine.ArcStats(d.Start, d.End, statusKeyLimit)
		if err == nil {
			r.Keys, r.Bytes, r.KeysExact = keys, bytes, exact
		}
	}
	return r
}

// gatherRanges asks every peer for its local range reports and keeps, for
// each range, the best-informed one: the leader's, else the newest
// descriptor. It returns the merged reports and the peers that did not
// answer.
func (n *Node) gatherRanges(ctx context.Context, local []*adminpb.Range, peers []string,
	ask func(context.Context, adminpb.AdminClient) ([]*adminpb.Range, error)) ([]*adminpb.Range, []string) {
	best := make(map[uint64]*adminpb.Range)
	for _, r := range local {
		best[r.RangeId] = r
	}
	var mu sync.Mutex
	unreachable := n.askPeers(ctx, peers, func(ctx context.Context, c adminpb.AdminClient) error {
		ranges, err := ask(ctx, c)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ranges {
			if cur, ok := best[r.RangeId]; !ok || better(r, cur) {
				best[r.RangeId] = r
			}
		}
		return nil
	})
	out := make([]*adminpb.Range, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	return out, unreachable
}

// askPeers runs ask against every peer concurrently, each bounded by
// statusPeerTimeout, and returns the peers whose ask failed, sorted. ask
// must be safe for concurrent use.
func (n *Node) askPeers(ctx context.Context, peers []string, ask func(context.Context, adminpb.AdminClient) error) []string {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var unreachable []string
	for _, addr := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, statusPeerTimeout)
			defer cancel()
			conn, err := n.pool.Conn(addr)
			if err == nil {
				err = ask(pctx, adminpb.NewAdminClient(conn))
			}
			if err != nil {
				mu.Lock()
				unreachable = append(unreachable, addr)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(unreachable)
	return unreachable
}

func sortRanges(ranges []*adminpb.Range) {
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].End < ranges[j].End })
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

// ringReport is this node's place in the ring, and with cluster that of
// every live member, as each sees its own.
func (n *Node) ringReport(ctx context.Context, cluster bool) *adminpb.RingResponse {
	resp := &adminpb.RingResponse{Node: n.name}
	if self := n.localRing(); self != nil {
		resp.Nodes = append(resp.Nodes, self)
	}
	if cluster {
		_, peers := n.memberList()
		var mu sync.Mutex
		resp.Unreachable = n.askPeers(ctx, peers, func(ctx context.Context, c adminpb.AdminClient) error {
			pr, err := c.Ring(ctx, &adminpb.RingRequest{Local: true})
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			resp.Nodes = append(resp.Nodes, pr.GetNodes()...)
			return nil
		})
	}
	sort.Slice(resp.Nodes, func(i, j int) bool { return resp.Nodes[i].GetSelf().GetRingId() < resp.Nodes[j].GetSelf().GetRingId() })
	return resp
}

// localRing is this node's own view of its place in the ring; nil before
// the ring is started.
func (n *Node) localRing() *adminpb.RingNode {
	r := n.Ring()
	if r == nil {
		return nil
	}
	out := &adminpb.RingNode{Self: serverPB(r.Self())}
	if p, ok := r.Predecessor(); ok {
		out.Predecessor = serverPB(p)
	}
	for _, s := range r.Successors() {
		out.Successors = append(out.Successors, serverPB(s))
	}
	if rg, ok := r.Range(); ok {
		out.HasRange, out.RangeStart, out.RangeEnd = true, rg.Start, rg.End
	}
	return out
}

func serverPB(s ring.Server) *adminpb.Server {
	return &adminpb.Server{Name: s.Name, Address: s.Address, RingId: s.Id}
}

// Status is the cluster as this node sees it: members and every range
// (asking the other members), as `concord-node status` prints it.
func (n *Node) Status(ctx context.Context) (*adminpb.StatusResponse, error) {
	return n.status(ctx, true)
}
