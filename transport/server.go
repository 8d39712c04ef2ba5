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
	base := []grpc.ServerOption{
		// A node holds connections from many peers, most idle at any
		// moment: keep read buffers small (gRPC already shares write
		// buffers between flushes). Later options override this.
		grpc.ReadBufferSize(connReadBuffer),
	}
	if tlsCfg != nil {
		base = append(base, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	return grpc.NewServer(append(base, opts...)...)
}

// connReadBuffer is the per-connection read buffer of Concord's gRPC
// servers and clients (gRPC's default is 32 KiB). Ring and control traffic
// is small messages; bulk transfers still stream through it in chunks.
const connReadBuffer = 16 << 10
