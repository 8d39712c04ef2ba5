package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// LoadTLS builds the server and client TLS configurations of a node from PEM
// files: certFile/keyFile is the node's own certificate chain and key, used
// both to serve and, as a client certificate, to dial.
//
// With caFile set, the configs are mutual TLS inside a private PKI: the
// server requires client certificates signed by that CA, and the client
// trusts only server certificates signed by it. With caFile "", servers ask
// for no client certificate and clients verify servers against the system
// roots (a public PKI).
//
// Both configs require TLS 1.2 or later. The client config leaves ServerName
// empty, so gRPC verifies the server against the dialed address; certificates
// of peers dialed by ip need that ip as a SAN (or set ServerName on a clone).
func LoadTLS(certFile, keyFile, caFile string) (server, client *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: load key pair: %w", err)
	}
	server = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	client = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if caFile == "" {
		return server, client, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, errors.New("transport: no PEM certificate in CA file " + caFile)
	}
	server.ClientCAs = pool
	server.ClientAuth = tls.RequireAndVerifyClientCert
	client.RootCAs = pool
	return server, client, nil
}
