package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/concord-kv/concord/api/adminpb"
)

// route is one range of the routing table: the arc (start, end] of ring
// positions (start == end is the whole circle), its leader's address
// (empty when unknown) and its replicas' addresses.
type route struct {
	start, end uint64
	leader     string
	replicas   []string
}

func (r route) contains(pos uint64) bool {
	switch {
	case r.start == r.end:
		return true
	case r.start < r.end:
		return r.start < pos && pos <= r.end
	default:
		return pos > r.start || pos <= r.end
	}
}

// table is an immutable routing table: routes ordered by end, and every
// node address it names.
type table struct {
	routes []route
	nodes  []string
}

// lookup returns the route of pos; ok is false when the table has none
// (empty, or a gap while ranges change).
func (t *table) lookup(pos uint64) (route, bool) {
	if t == nil || len(t.routes) == 0 {
		return route{}, false
	}
	i := sort.Search(len(t.routes), func(i int) bool { return t.routes[i].end >= pos })
	if i == len(t.routes) {
		i = 0 // past the last end: the range that wraps past zero
	}
	if r := t.routes[i]; r.contains(pos) {
		return r, true
	}
	return route{}, false
}

// newTable builds a table from an Admin.Ranges answer.
func newTable(resp *adminpb.RangesResponse) *table {
	t := &table{}
	seen := map[string]bool{}
	addNode := func(addr string) {
		if addr != "" && !seen[addr] {
			seen[addr] = true
			t.nodes = append(t.nodes, addr)
		}
	}
	for _, r := range resp.GetRanges() {
		rt := route{start: r.GetStart(), end: r.GetEnd(), leader: r.GetLeaderAddress()}
		for _, rep := range r.GetReplicas() {
			if rep.GetAddress() != "" {
				rt.replicas = append(rt.replicas, rep.GetAddress())
			}
			addNode(rep.GetAddress())
		}
		addNode(rt.leader)
		t.routes = append(t.routes, rt)
	}
	sort.Slice(t.routes, func(i, j int) bool { return t.routes[i].end < t.routes[j].end })
	return t
}

// refreshAttemptTimeout bounds one node's answer to a refresh, so that a
// node that stopped answering does not hold up the others.
const refreshAttemptTimeout = 3 * time.Second

// routing keeps the routing table fresh. Refreshes are serialized, and a
// refresh asked for by a caller that saw a problem before the latest
// refresh completed is skipped: that refresh already saw the news.
type routing struct {
	seeds  []string
	ask    func(ctx context.Context, addr string) (*adminpb.RangesResponse, error)
	onDone func()

	sem chan struct{} // one refresh at a time

	mu   sync.Mutex
	tab  *table
	last time.Time // when the latest successful refresh started
}

func newRouting(seeds []string, ask func(context.Context, string) (*adminpb.RangesResponse, error), onDone func()) *routing {
	return &routing{seeds: slices.Clone(seeds), ask: ask, onDone: onDone, sem: make(chan struct{}, 1)}
}

func (r *routing) table() *table {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tab
}

// refresh rereads the routing table from the first node that answers,
// unless a refresh that started after since has completed.
func (r *routing) refresh(ctx context.Context, since time.Time) error {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.sem }()
	r.mu.Lock()
	fresh := r.last.After(since)
	r.mu.Unlock()
	if fresh {
		return nil
	}
	started := time.Now()
	var errs []error
	for _, addr := range r.candidates(route{}, false) {
		actx, cancel := context.WithTimeout(ctx, refreshAttemptTimeout)
		resp, err := r.ask(actx, addr)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		t := newTable(resp)
		r.mu.Lock()
		r.tab, r.last = t, started
		r.mu.Unlock()
		r.onDone()
		return nil
	}
	return fmt.Errorf("read the routing table: %w", errors.Join(errs...))
}

// candidates lists the addresses to try for a request, best first: with
// rt, the range's leader and its other replicas; then every node of the
// table and the seeds. Each appears once.
func (r *routing) candidates(rt route, routed bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(addrs ...string) {
		for _, a := range addrs {
			if a != "" && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	if routed {
		add(rt.leader)
		add(rt.replicas...)
	}
	if t := r.table(); t != nil {
		add(t.nodes...)
	}
	add(r.seeds...)
	return out
}
