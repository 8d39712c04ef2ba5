package transport

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

func listenPacket(t *testing.T, m *MemNetwork, ip string) net.PacketConn {
	t.Helper()
	pc, err := m.Host(ip).ListenPacket(ip + ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func TestMemDatagrams(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	a, b := listenPacket(t, m, "127.1.0.1"), listenPacket(t, m, "127.1.0.2")
	if _, ok := a.LocalAddr().(*net.UDPAddr); !ok {
		t.Fatalf("LocalAddr is %T, want *net.UDPAddr", a.LocalAddr())
	}
	if _, err := a.WriteTo([]byte("ping"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2) // shorter than the datagram: truncated, like UDP
	n, from, err := b.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "pi" {
		t.Fatalf("ReadFrom = %q, %v", buf[:n], err)
	}
	if ua, ok := from.(*net.UDPAddr); !ok || ua.String() != a.LocalAddr().String() {
		t.Fatalf("from = %#v, want %v", from, a.LocalAddr())
	}
	// Any net.Addr whose String is ip:port works as a destination.
	if _, err := b.WriteTo([]byte("pong"), &net.TCPAddr{IP: net.ParseIP("127.1.0.1"), Port: a.LocalAddr().(*net.UDPAddr).Port}); err != nil {
		t.Fatal(err)
	}
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := a.ReadFrom(make([]byte, 16)); err != nil || n != 4 {
		t.Fatalf("reply: %d, %v", n, err)
	}

	// Deadlines and Close.
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := a.ReadFrom(make([]byte, 16)); !isTimeout(err) {
		t.Fatalf("read past deadline: %v", err)
	}
	a.SetWriteDeadline(time.Unix(1, 0))
	if _, err := a.WriteTo([]byte("x"), b.LocalAddr()); !isTimeout(err) {
		t.Fatalf("write past deadline: %v", err)
	}
	a.SetDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, _, err := a.ReadFrom(make([]byte, 16))
		done <- err
	}()
	a.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read unblocked by close: %v", err)
	}
}

func TestMemDatagramCutAndCrash(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	a, b := listenPacket(t, m, "127.1.0.1"), listenPacket(t, m, "127.1.0.2")

	m.CutOneWay("127.1.0.1", "127.1.0.2")
	a.WriteTo([]byte("lost"), b.LocalAddr())
	b.WriteTo([]byte("passes"), a.LocalAddr())
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := a.ReadFrom(make([]byte, 16)); err != nil || n != 6 {
		t.Fatalf("reverse of a one-way cut: %d, %v", n, err)
	}
	m.HealAll()

	m.Crash("127.1.0.2")
	if _, err := a.WriteTo([]byte("vanishes"), b.LocalAddr()); err != nil {
		t.Fatalf("send to crashed host should look successful: %v", err)
	}
	s := m.Stats()
	if s.DatagramsSent != 3 || s.DatagramsDelivered != 1 || s.DatagramsDropped != 2 || s.DatagramsLost != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// lossRun sends n datagrams from a to b with loss p and returns how many
// were delivered, checking every delivered one arrives.
func lossRun(t *testing.T, seed int64, p float64, n int) int {
	m := NewMemNetwork(seed)
	a, b := listenPacket(t, m, "127.1.0.1"), listenPacket(t, m, "127.1.0.2")
	m.SetLoss("127.1.0.1", "127.1.0.2", p)
	for i := range n {
		if _, err := a.WriteTo([]byte(fmt.Sprint(i)), b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	s := m.Stats()
	if s.DatagramsSent != int64(n) || s.DatagramsDelivered+s.DatagramsLost != int64(n) {
		t.Fatalf("stats %+v", s)
	}
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	for range s.DatagramsDelivered {
		if _, _, err := b.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
	}
	return int(s.DatagramsDelivered)
}

func TestMemDatagramLoss(t *testing.T) {
	t.Parallel()
	const n = 4000 // within one receive queue
	got := lossRun(t, 42, 0.3, n)
	if lost := n - got; lost < n*25/100 || lost > n*35/100 {
		t.Errorf("lost %d of %d with p=0.3", lost, n)
	}
	if again := lossRun(t, 42, 0.3, n); again != got {
		t.Errorf("same seed delivered %d then %d: not deterministic", got, again)
	}
	if got := lossRun(t, 42, 1, 100); got != 0 {
		t.Errorf("p=1 delivered %d", got)
	}
	if got := lossRun(t, 42, 0, 100); got != 100 {
		t.Errorf("p=0 delivered %d of 100", got)
	}
}

func TestMemDatagramLossWildcards(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	a, b := listenPacket(t, m, "127.1.0.1"), listenPacket(t, m, "127.1.0.2")
	m.SetLoss("", "", 1)
	m.SetLoss("127.1.0.1", "127.1.0.2", 0) // a specific rule beats the wildcard
	a.WriteTo([]byte("kept"), b.LocalAddr())
	b.WriteTo([]byte("lost"), a.LocalAddr())
	if s := m.Stats(); s.DatagramsDelivered != 1 || s.DatagramsLost != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMemDatagramDelay(t *testing.T) {
	t.Parallel()
	m := NewMemNetwork(1)
	a, b := listenPacket(t, m, "127.1.0.1"), listenPacket(t, m, "127.1.0.2")
	const d = 40 * time.Millisecond
	m.SetDelay("", "127.1.0.2", d)
	start := time.Now()
	a.WriteTo([]byte("slow"), b.LocalAddr())
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := b.ReadFrom(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < d {
		t.Errorf("datagram arrived after %v, want >= %v", el, d)
	}
}
