package transport

import (
	"context"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// grpcDialOptioner is implemented by Networks that want extra options on
// every gRPC client a Pool creates over them. Pool applies them after its own
// (so its deadline interceptor runs first) and before PoolConfig.DialOptions.
type grpcDialOptioner interface {
	GRPCDialOptions() []grpc.DialOption
}

// GRPCDialOptions makes SetLoss apply to RPCs: it returns a unary client
// interceptor that drops the loss fraction of from->to calls, where from is
// this host and to is the host of the ClientConn's target (loss rules are
// resolved as in MemNetwork.SetLoss). A dropped call
// never reaches the server; it waits until its context ends and returns that
// as a status (codes.DeadlineExceeded under the Pool's default deadline), as
// a request lost on the wire would. Streams are not affected.
func (h *memHost) GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(h.dropUnary)}
}

func (h *memHost) dropUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if m, rules := h.m, h.m.rules.Load(); len(rules.loss) > 0 {
		p := rules.lossOf(h.ip, targetIP(cc.Target()))
		if m.lose(p) {
			m.stats.rpcDropped.Add(1)
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// targetIP extracts the canonical host ip from a target such as
// "passthrough:///127.1.0.5:7000". For a target without one it returns "",
// so that only rules with a wildcard destination apply.
func targetIP(target string) string {
	if i := strings.LastIndexByte(target, '/'); i >= 0 {
		target = target[i+1:]
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return ""
	}
	return canonIP(host)
}
