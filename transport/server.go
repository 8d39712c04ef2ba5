package transport

import (
	"crypto/tls"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// NewServer returns a gRPC server that serves TLS with tlsCfg, or plaintext
// when tlsCfg is nil (tests, the simulator, trusted networks). For mutual TLS
// pass the server config from LoadTLS, which requires and verifies client
// certificates. Serve it on any Network's listener (or SplitGRPC's).
//
// opts are appended after the credentials, so callers can add interceptors,
// limits or keepalive policy, but should not pass grpc.Creds themselves.
func NewServer(tlsCfg *tls.Config, opts ...grpc.ServerOption) *grpc.Server {
	if tlsCfg != nil {
		opts = append([]grpc.ServerOption{grpc.Creds(credentials.NewTLS(tlsCfg))}, opts...)
	}
	return grpc.NewServer(opts...)
}
