package membership

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// errStopped reports a join wait cut short by Leave or Shutdown.
var errStopped = errors.New("membership: stopped")

// Join contacts the given seeds ("ip:port", or "host:port" resolved with the
// system resolver) in parallel and merges state with each one that answers.
// It returns how many seed addresses were contacted successfully, and an
// error only if none was (this node's own address is skipped, so a seed list
// naming only this node returns 0, nil). It returns when every attempt has
// finished or ctx is done, whichever is first; attempts still running then
// finish within memberlist's stream timeout (ten probe intervals) and are
// stopped by Shutdown.
func (m *Membership) Join(ctx context.Context, seeds ...string) (int, error) {
	if err := m.usable(); err != nil {
		return 0, err
	}
	addrs, errs := m.resolveSeeds(ctx, seeds)
	if len(addrs) == 0 {
		if len(errs) == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("membership: no seed reachable: %w", errors.Join(errs...))
	}
	n, err := m.join(ctx, addrs, m.stop)
	if n > 0 {
		return n, nil
	}
	return 0, fmt.Errorf("membership: no seed reachable: %w", errors.Join(append(errs, err)...))
}

// join runs one memberlist join per address, in goroutines counted by m.wg,
// and waits for them, for ctx, or for stop to close. It reports the number
// of successes and, when there are none, why.
func (m *Membership) join(ctx context.Context, addrs []string, stop <-chan struct{}) (int, error) {
	m.mu.Lock()
	if m.shutdown {
		m.mu.Unlock()
		return 0, ErrShutdown
	}
	m.wg.Add(len(addrs))
	m.mu.Unlock()

	results := make(chan error, len(addrs))
	for _, a := range addrs {
		go func() {
			defer m.wg.Done()
			_, err := m.list.Join([]string{a})
			results <- err
		}()
	}
	var (
		ok   int
		errs []error
	)
	for range addrs {
		select {
		case err := <-results:
			if err != nil {
				errs = append(errs, err)
			} else {
				ok++
			}
		case <-ctx.Done():
			return ok, errors.Join(append(errs, ctx.Err())...)
		case <-stop:
			return ok, errors.Join(append(errs, errStopped)...)
		}
	}
	return ok, errors.Join(errs...)
}

// resolveSeeds turns seeds into distinct "ip:port" strings, dropping this
// node's own advertised address. Seeds that cannot be parsed or resolved
// are reported as errors.
func (m *Membership) resolveSeeds(ctx context.Context, seeds []string) ([]string, []error) {
	var (
		out  []string
		errs []error
		seen = map[string]bool{m.adverts: true}
	)
	for _, s := range seeds {
		aps, err := resolveSeed(ctx, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, ap := range aps {
			if a := ap.String(); !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out, errs
}

// resolveSeed parses "ip:port", or resolves "host:port" bounded by ctx.
func resolveSeed(ctx context.Context, seed string) ([]netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(seed)
	if err != nil {
		return nil, fmt.Errorf("membership: seed %q: %w", seed, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("membership: seed %q: bad port", seed)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(ip.Unmap(), uint16(port))}, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("membership: seed %q: %w", seed, err)
	}
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
	}
	return out, nil
}

// rejoinLoop runs until Leave or Shutdown. It re-joins missing seeds at
// once and then every rejoin interval (when there are seeds), and performs
// the re-announcements scheduled by name conflicts (see noteConflict).
//
// Memberlist alone does not heal every split: it stops gossiping to dead
// members after GossipToTheDeadTime and never push/pulls with them, so two
// sides that each declared the other dead stay apart; a join (a push/pull)
// makes each side learn that the other declared it dead, refute, and merge.
func (m *Membership) rejoinLoop() {
	defer m.wg.Done()
	nextRejoin := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		due := m.nextReannounce()
		if len(m.seeds) > 0 && (due.IsZero() || nextRejoin.Before(due)) {
			due = nextRejoin
		}
		if due.IsZero() {
			due = time.Now().Add(time.Hour) // nothing to do until poked
		}
		timer.Reset(time.Until(due))
		select {
		case <-m.noRejoin:
			return
		case <-m.poke:
			timer.Stop()
			continue
		case <-timer.C:
		}
		now := time.Now()
		if len(m.seeds) > 0 && !now.Before(nextRejoin) {
			m.rejoinMissing()
			nextRejoin = time.Now().Add(m.rejoin)
		}
		m.reannounce(now)
	}
}

// rejoinMissing joins every seed address that is not a live member. It
// waits for its join attempts to finish (each is bounded by memberlist's
// stream timeout), so attempts never pile up behind a slow seed.
func (m *Membership) rejoinMissing() {
	addrs := m.seedAddrs()
	live := m.liveAddrs()
	var missing []string
	for _, a := range addrs {
		if !live[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return
	}
	n, err := m.join(context.Background(), missing, m.noRejoin)
	m.logger.Debug("membership: re-joined seeds", "missing", missing, "contacted", n, "err", err)
}

// seedAddrs resolves the configured seeds, logging unusable ones.
func (m *Membership) seedAddrs() []string {
	ctx, cancel := context.WithTimeout(context.Background(), streamTimeout(m.timing))
	defer cancel()
	addrs, errs := m.resolveSeeds(ctx, m.seeds)
	for _, err := range errs {
		m.logger.Debug("membership: seed unusable", "err", err)
	}
	return addrs
}

// liveAddrs returns the gossip addresses of the live members.
func (m *Membership) liveAddrs() map[string]bool {
	live := map[string]bool{}
	for _, mem := range m.table.live() {
		live[mem.Addr] = true
	}
	return live
}
