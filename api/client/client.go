package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/api/adminpb"
	"github.com/concord-kv/concord/router"
)

// Client is a concord.KV of a remote cluster. Its methods are safe for
// concurrent use; each is documented on concord.Node and behaves the same
// way through the client, options and errors included.
type Client struct {
	cfg    Config
	router *routing
	creds  credentials.TransportCredentials

	// bg bounds the background refreshes; Close cancels it and waits.
	bg     context.Context
	stop   context.CancelFunc
	bgWait sync.WaitGroup
	// bgPending: a background refresh is running or about to.
	bgPending atomic.Bool

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	closed bool

	calls, local, forwarded, retries, refreshes atomic.Uint64
}

var _ concord.KV = (*Client)(nil)

// Stats counts what a Client did since New.
type Stats struct {
	// Calls is the number of RPCs sent (retries included).
	Calls uint64
	// ServedLocally and Forwarded count the answers of single-range calls
	// by whether the answering node led the range (it did not have to
	// forward the request).
	ServedLocally, Forwarded uint64
	// Retries is the number of RPCs resent after a failure.
	Retries uint64
	// Refreshes is the number of times the routing table was read.
	Refreshes uint64
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Calls:         c.calls.Load(),
		ServedLocally: c.local.Load(),
		Forwarded:     c.forwarded.Load(),
		Retries:       c.retries.Load(),
		Refreshes:     c.refreshes.Load(),
	}
}

// New returns a client of the cluster the seeds belong to, once it has
// read the cluster's routing table from one of them (ctx bounds that).
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, conns: make(map[string]*grpc.ClientConn), creds: insecure.NewCredentials()}
	if cfg.TLS != nil {
		c.creds = credentials.NewTLS(cfg.TLS)
	}
	c.bg, c.stop = context.WithCancel(context.Background())
	c.router = newRouting(cfg.Seeds, c.askRanges, func() { c.refreshes.Add(1) })
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	if err := c.router.refresh(ctx, time.Time{}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("concord client: %w: %w", concord.ErrUnavailable, err)
	}
	return c, nil
}

// Close closes the connections. Calls in flight fail.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	c.bgWait.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for addr, conn := range c.conns {
		errs = append(errs, conn.Close())
		delete(c.conns, addr)
	}
	return errors.Join(errs...)
}

// Status is the cluster as the first node that answers sees it (see
// concord.Node.Status).
func (c *Client) Status(ctx context.Context) (*adminpb.StatusResponse, error) {
	var resp *adminpb.StatusResponse
	err := c.call(ctx, "status", plan{}, func(ctx context.Context, conn *grpc.ClientConn, opts ...grpc.CallOption) error {
		var err error
		resp, err = adminpb.NewAdminClient(conn).Status(ctx, &adminpb.StatusRequest{Cluster: true}, opts...)
		return err
	})
	return resp, err
}

func (c *Client) askRanges(ctx context.Context, addr string) (*adminpb.RangesResponse, error) {
	conn, err := c.conn(addr)
	if err != nil {
		return nil, err
	}
	return adminpb.NewAdminClient(conn).Ranges(ctx, &adminpb.RangesRequest{})
}

// conn returns the connection to addr, creating it on first use (gRPC
// connects lazily and reconnects by itself).
func (c *Client) conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("concord client: %w", concord.ErrClosed)
	}
	if conn, ok := c.conns[addr]; ok {
		return conn, nil
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(c.creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(router.MaxMessageSize)))
	if err != nil {
		return nil, fmt.Errorf("concord client: connect to %s: %w", addr, err)
	}
	c.conns[addr] = conn
	return conn, nil
}

// plan says how to route and retry one call.
type plan struct {
	// routed: key is the call's (first) key, whose range's leader should
	// serve it.
	routed bool
	key    []byte
	// single: every key of the call is in key's range, as far as the
	// routing table knows, so an answer whose ServedLocallyTrailer is
	// "false" means the table is stale.
	single bool
	// write: the call changes data, so it is resent only after a failure
	// proving it was not applied.
	write bool
}

// keysPlan routes a call on keys by its first key; single when the
// routing table puts them all in one range.
func (c *Client) keysPlan(keys [][]byte, write bool) plan {
	if len(keys) == 0 {
		return plan{write: write}
	}
	p := plan{routed: true, key: keys[0], single: true, write: write}
	t := c.router.table()
	first, ok := t.lookup(concord.Position(keys[0], c.cfg.HashFunc, c.cfg.HashBits))
	for _, k := range keys[1:] {
		if !ok {
			break
		}
		r, found := t.lookup(concord.Position(k, c.cfg.HashFunc, c.cfg.HashBits))
		ok = found && r.end == first.end
	}
	p.single = ok
	return p
}

// The backoff between attempts of one call.
const (
	backoffMin = 10 * time.Millisecond
	backoffMax = 300 * time.Millisecond
)

// minAsyncRefresh spaces the refreshes a stream of forwarded answers
// triggers: the table they read may itself be a little behind a
// leadership change.
const minAsyncRefresh = 100 * time.Millisecond

// call runs rpc against the best node for p until it succeeds, fails in a
// way retrying cannot help, or the deadline passes.
func (c *Client) call(ctx context.Context, op string, p plan, rpc func(ctx context.Context, conn *grpc.ClientConn, opts ...grpc.CallOption) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	var pos uint64
	if p.routed {
		pos = concord.Position(p.key, c.cfg.HashFunc, c.cfg.HashBits)
	}
	failed := map[string]bool{}
	b := router.NewBackoff(backoffMin, backoffMax)
	for attempt := 0; ; attempt++ {
		addr := c.pick(pos, p.routed, failed)
		conn, err := c.conn(addr)
		if err != nil {
			return err
		}
		if attempt > 0 {
			c.retries.Add(1)
		}
		c.calls.Add(1)
		sent := time.Now()
		// Only single-range reads are bounded per attempt: a scan may
		// rightly take long, reading range after range.
		actx, acancel := attemptContext(ctx, p.write || !p.routed)
		var trailer metadata.MD
		err = rpc(actx, conn, grpc.Trailer(&trailer))
		attemptExpired := actx.Err() != nil && ctx.Err() == nil
		acancel()
		if p.single {
			c.noteLocality(trailer, sent)
		}
		if err == nil {
			return nil
		}
		d := decodeError(op, err)
		if !retryable(d, p.write) && !(attemptExpired && !p.write) {
			if p.write && !d.fromNode && d.code == concord.CodeUnavailable {
				return fmt.Errorf("concord client: %s: %w: the connection failed after the write was sent to %s, its outcome is unknown: %w", op, concord.ErrTimeout, addr, err)
			}
			return d.err
		}
		failed[addr] = true
		if err := c.router.refresh(ctx, sent); err != nil {
			c.cfg.Logger.Debug("routing refresh failed", "err", err)
		}
		if err := b.Wait(ctx); err != nil {
			// The deadline ended the retries: say so, as a Node does.
			return fmt.Errorf("%w (retried until: %w)", d.err, err)
		}
	}
}

// The time one attempt of a read may take: a node that stopped answering
// then costs only part of the call's deadline before another is tried.
// Writes are not bounded per attempt: a write that timed out after it was
// sent cannot be resent anyway.
const (
	readAttemptMax = 2 * time.Second
	readAttemptMin = 50 * time.Millisecond
)

// attemptContext bounds one attempt of a call: unless unbounded, it gets
// at most half the time left (and at most readAttemptMax), or all of it
// when that is under readAttemptMin.
func attemptContext(ctx context.Context, unbounded bool) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if unbounded || !ok {
		return ctx, func() {}
	}
	d := min(time.Until(dl)/2, readAttemptMax)
	if d < readAttemptMin {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// retryable reports whether a failed call may be resent: the node said it
// could not serve it (nothing was applied), or, for reads, the connection
// failed, or, for writes, it was never established.
func retryable(d decoded, write bool) bool {
	switch d.code {
	case concord.CodeUnavailable, concord.CodeClosed:
		return d.fromNode || !write || d.neverSent
	}
	return false
}

// pick chooses the node for the next attempt: the first candidate that
// has not failed during this call, or when all have, the best one again.
func (c *Client) pick(pos uint64, routed bool, failed map[string]bool) string {
	var rt route
	if routed {
		rt, routed = c.router.table().lookup(pos)
	}
	cands := c.router.candidates(rt, routed)
	for _, a := range cands {
		if !failed[a] {
			return a
		}
	}
	clear(failed)
	return cands[0]
}

// noteLocality counts whether the node led the request's range, and
// refreshes the routing table in the background when it did not.
func (c *Client) noteLocality(trailer metadata.MD, sent time.Time) {
	v := trailer.Get(concord.ServedLocallyTrailer)
	if len(v) == 0 {
		return
	}
	if v[0] == "true" {
		c.local.Add(1)
		return
	}
	c.forwarded.Add(1)
	if !c.bgPending.CompareAndSwap(false, true) {
		return // a background refresh is on its way
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.bgPending.Store(false)
		return
	}
	c.bgWait.Add(1)
	go func() {
		defer c.bgWait.Done()
		defer c.bgPending.Store(false)
		ctx, cancel := context.WithTimeout(c.bg, c.cfg.Timeout)
		defer cancel()
		if err := c.router.refresh(ctx, sent.Add(-minAsyncRefresh)); err != nil {
			c.cfg.Logger.Debug("routing refresh failed", "err", err)
		}
	}()
}
