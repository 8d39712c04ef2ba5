package transport

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/concord-kv/concord/transport/tlstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tlsFixture is a server on real TCP with mutual TLS, plus client configs.
type tlsFixture struct {
	addr               string
	client             *tls.Config // signed by the server's CA, with a cert
	noCert             *tls.Config // trusts the CA but presents no cert
	otherCA            *tls.Config // cert and trust from a different CA
	foreignCert        *tls.Config // trusts the CA, cert from another CA
	caFile, otherCAPEM string
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	dir := t.TempDir()
	ca, other := tlstest.NewCA(t, "concord test CA"), tlstest.NewCA(t, "unrelated CA")
	f := &tlsFixture{caFile: ca.Write(t, dir, "ca"), otherCAPEM: other.Write(t, dir, "other-ca")}
	srvCert, srvKey := ca.Issue(t, dir, "server")
	cliCert, cliKey := ca.Issue(t, dir, "client")
	otherCert, otherKey := other.Issue(t, dir, "intruder")

	serverTLS, _, err := LoadTLS(srvCert, srvKey, f.caFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, f.client, err = LoadTLS(cliCert, cliKey, f.caFile); err != nil {
		t.Fatal(err)
	}
	f.noCert = f.client.Clone()
	f.noCert.Certificates = nil
	if _, f.otherCA, err = LoadTLS(otherCert, otherKey, f.otherCAPEM); err != nil {
		t.Fatal(err)
	}
	if _, f.foreignCert, err = LoadTLS(otherCert, otherKey, f.caFile); err != nil {
		t.Fatal(err)
	}

	l, err := TCP().Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveHealth(t, l, NewServer(serverTLS))
	f.addr = l.Addr().String()
	return f
}

func tlsPool(t *testing.T, cfg *tls.Config) *Pool {
	p := NewPool(PoolConfig{Network: TCP(), TLS: cfg, CallTimeout: 5 * time.Second})
	t.Cleanup(func() { p.Close() })
	return p
}

func TestGRPCTLS(t *testing.T) {
	t.Parallel()
	f := newTLSFixture(t)

	t.Run("mutual", func(t *testing.T) {
		t.Parallel()
		if err := check(t, tlsPool(t, f.client), f.addr); err != nil {
			t.Fatalf("mutual TLS call: %v", err)
		}
	})
	t.Run("client without cert", func(t *testing.T) {
		t.Parallel()
		err := check(t, tlsPool(t, f.noCert), f.addr)
		if err == nil {
			t.Fatal("server accepted a client without a certificate")
		}
		t.Logf("rejected: %v", err)
	})
	t.Run("client of another CA", func(t *testing.T) {
		t.Parallel()
		err := check(t, tlsPool(t, f.otherCA), f.addr)
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("client trusting another CA: %v, want Unavailable", err)
		}
		t.Logf("rejected: %v", err)
	})
	t.Run("client cert from another CA", func(t *testing.T) {
		t.Parallel()
		if err := check(t, tlsPool(t, f.foreignCert), f.addr); err == nil {
			t.Fatal("server accepted a certificate from an unknown CA")
		}
	})
	t.Run("plaintext client", func(t *testing.T) {
		t.Parallel()
		if err := check(t, tlsPool(t, nil), f.addr); err == nil {
			t.Fatal("TLS server answered a plaintext client")
		}
	})
}

func TestLoadTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "ca")
	cert, key := ca.Issue(t, dir, "node")

	srv, cli, err := LoadTLS(cert, key, "")
	if err != nil {
		t.Fatal(err)
	}
	if srv.ClientAuth != tls.NoClientCert || cli.RootCAs != nil {
		t.Errorf("without CA: ClientAuth %v, RootCAs %v; want no client certs and system roots", srv.ClientAuth, cli.RootCAs)
	}
	srv, cli, err = LoadTLS(cert, key, ca.Write(t, dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	if srv.ClientAuth != tls.RequireAndVerifyClientCert || srv.ClientCAs == nil || cli.RootCAs == nil || len(cli.Certificates) != 1 {
		t.Errorf("with CA: configs not mutual: %+v %+v", srv, cli)
	}

	if _, _, err := LoadTLS(cert, key, cert+".missing"); err == nil {
		t.Error("missing CA file accepted")
	}
	if _, _, err := LoadTLS(cert, key, key); err == nil {
		t.Error("CA file without certificates accepted")
	}
	if _, _, err := LoadTLS(key, key, ""); err == nil {
		t.Error("bad key pair accepted")
	}
}
