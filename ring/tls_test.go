package ring_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"

	. "github.com/concord-kv/concord/ring"
	"github.com/concord-kv/concord/ring/ringcheck"
	"github.com/concord-kv/concord/transport"
	"github.com/concord-kv/concord/transport/tlstest"
)

// Ring RPCs over mutual TLS on real loopback TCP: members with certificates
// from the cluster CA form a ring; a node whose certificate comes from
// another CA cannot join.
func TestMutualTLSRing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, other := tlstest.NewCA(t, "cluster CA"), tlstest.NewCA(t, "intruder CA")
	caFile := ca.Write(t, dir, "ca")
	pair := func(issuer *tlstest.CA, name string) (*tls.Config, *tls.Config) {
		cert, key := issuer.Issue(t, dir, name)
		srv, cli, err := transport.LoadTLS(cert, key, caFile)
		if err != nil {
			t.Fatal(err)
		}
		return srv, cli
	}
	start := func(name string, srv, cli *tls.Config) *Node {
		n := New(Config{
			Name: name, BindAddr: "127.0.0.1:0", TLS: srv, ClientTLS: cli,
			StabilizeInterval: 20 * time.Millisecond, RPCTimeout: time.Second,
		})
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Stop)
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var nodes []*Node
	for i := range 3 {
		srv, cli := pair(ca, fmt.Sprintf("m%d", i))
		n := start(fmt.Sprintf("m%d", i), srv, cli)
		if i == 0 {
			if err := n.Create(); err != nil {
				t.Fatal(err)
			}
		} else if err := n.Join(ctx, nodes[0].Address()); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	await.Until(t, 30*time.Second, "ideal TLS ring", func() error { return ringcheck.Ideal(nodes, DefaultSuccessorCount) })

	srv, cli := pair(other, "intruder")
	intruder := start("intruder", srv, cli)
	jctx, jcancel := context.WithTimeout(ctx, 3*time.Second)
	defer jcancel()
	if err := intruder.Join(jctx, nodes[0].Address()); err == nil || errors.Is(err, ErrIDTaken) {
		t.Fatalf("a node with a foreign certificate joined: %v", err)
	}
	if intruder.IsMember() {
		t.Fatal("intruder is a member")
	}
}
