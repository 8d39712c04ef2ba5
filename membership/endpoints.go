package membership

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// portRetries is how many times a port-0 bind is retried when the stream
// port the system picked is already taken for datagrams (a real-network
// race; the in-memory network never needs it).
const portRetries = 10

// endpoints are a node's bound gossip sockets and resolved addresses.
type endpoints struct {
	packets   net.PacketConn
	streams   net.Listener
	bound     netip.AddrPort
	advertise netip.AddrPort
}

// close releases both sockets (used when Start fails before memberlist owns
// them).
func (e *endpoints) close() {
	_ = e.packets.Close()
	_ = e.streams.Close()
}

// openEndpoints binds the stream listener (or adopts Config.StreamListener)
// and the datagram endpoint on the same ip:port, resolving port 0 before
// memberlist starts so it is told the real port. It then resolves the
// advertised address. On error nothing stays open, and a supplied
// StreamListener is closed, since Start owns it.
func openEndpoints(c Config) (*endpoints, error) {
	e, err := bind(c)
	if err != nil {
		if c.StreamListener != nil {
			_ = c.StreamListener.Close()
		}
		return nil, err
	}
	e.advertise, err = advertiseAddr(c.AdvertiseAddr, e.bound)
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// bind opens the sockets.
func bind(c Config) (*endpoints, error) {
	var ip netip.Addr
	port := uint16(0)
	if c.BindAddr != "" {
		ap, err := parseAddrPort(c.BindAddr, true)
		if err != nil {
			return nil, fmt.Errorf("membership: BindAddr: %w", err)
		}
		ip, port = ap.Addr(), ap.Port()
	}

	if c.StreamListener != nil {
		lp, err := addrPortOf(c.StreamListener.Addr())
		if err != nil {
			return nil, fmt.Errorf("membership: StreamListener address: %w", err)
		}
		if !ip.IsValid() {
			ip = lp.Addr()
		}
		if port != 0 && port != lp.Port() {
			return nil, fmt.Errorf("membership: BindAddr port %d differs from StreamListener port %d", port, lp.Port())
		}
		bound := netip.AddrPortFrom(ip, lp.Port())
		pc, err := c.Network.ListenPacket(bound.String())
		if err != nil {
			return nil, fmt.Errorf("membership: gossip datagrams on %s: %w", bound, err)
		}
		return &endpoints{packets: pc, streams: c.StreamListener, bound: bound}, nil
	}

	tries := 1
	if port == 0 {
		tries = portRetries
	}
	var lastErr error
	for range tries {
		ln, err := c.Network.Listen(netip.AddrPortFrom(ip, port).String())
		if err != nil {
			return nil, fmt.Errorf("membership: gossip streams on %s: %w", c.BindAddr, err)
		}
		lp, err := addrPortOf(ln.Addr())
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("membership: gossip listener address: %w", err)
		}
		bound := netip.AddrPortFrom(ip, lp.Port())
		pc, err := c.Network.ListenPacket(bound.String())
		if err != nil {
			_ = ln.Close()
			lastErr = fmt.Errorf("membership: gossip datagrams on %s: %w", bound, err)
			continue
		}
		return &endpoints{packets: pc, streams: ln, bound: bound}, nil
	}
	return nil, lastErr
}

// advertiseAddr resolves Config.AdvertiseAddr against the bound address.
func advertiseAddr(adv string, bound netip.AddrPort) (netip.AddrPort, error) {
	if adv == "" {
		if bound.Addr().IsUnspecified() {
			return netip.AddrPort{}, fmt.Errorf("membership: AdvertiseAddr is required when binding to %s", bound.Addr())
		}
		return bound, nil
	}
	ap, err := parseAddrPort(adv, false)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("membership: AdvertiseAddr: %w", err)
	}
	if ap.Addr().IsUnspecified() {
		return netip.AddrPort{}, fmt.Errorf("membership: AdvertiseAddr %q is unspecified", adv)
	}
	if ap.Port() == 0 {
		ap = netip.AddrPortFrom(ap.Addr(), bound.Port())
	}
	return ap, nil
}

// parseAddrPort parses "ip:port" with an IP literal. An empty ip is allowed
// (as the unspecified IPv4 address) only when emptyIPOK.
func parseAddrPort(s string, emptyIPOK bool) (netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port in %q", s)
	}
	if host == "" {
		if !emptyIPOK {
			return netip.AddrPort{}, fmt.Errorf("%q has no IP", s)
		}
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IP literal", host)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}

// addrPortOf extracts ip:port from a listener's address, whatever its
// concrete type.
func addrPortOf(a net.Addr) (netip.AddrPort, error) {
	if a == nil {
		return netip.AddrPort{}, errors.New("no address")
	}
	return parseAddrPort(a.String(), true)
}
