package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// canonIP returns ip in canonical form, so "::ffff:10.0.0.1" and "10.0.0.1"
// name the same host in fault rules. Non-addresses ("" wildcards) are kept.
func canonIP(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.Unmap().String()
	}
	return ip
}

// parseAddrPort parses a literal "ip:port" destination.
func parseAddrPort(addr string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("transport: in-memory address must be literal ip:port: %w", err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// netAddrPort converts any net.Addr whose String is "ip:port" (UDP addresses
// without allocating).
func netAddrPort(a net.Addr) (netip.AddrPort, error) {
	if u, ok := a.(*net.UDPAddr); ok && u != nil {
		ap := u.AddrPort()
		if ap.Addr().IsValid() {
			return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
		}
	}
	if a == nil {
		return netip.AddrPort{}, errors.New("transport: nil address")
	}
	return parseAddrPort(a.String())
}
