// Package client is the Go client of a remote Concord cluster: a
// concord.KV over the gRPC KV service (api/kvpb) that every node serves.
//
// It owns the client side of routing: a routing table of range
// descriptors read from the Admin.Ranges RPC, the ring position of each
// key computed exactly as nodes compute it (concord.Position), and a
// retry loop that sends each request to its range's leader, falls back to
// the range's other replicas and then to any known node, and refreshes
// the table when a node reports that it had to forward a request (the
// concord.ServedLocallyTrailer) or could not serve it. An application
// switches between an embedded *concord.Node and a remote *Client by
// changing the one line that makes its concord.KV.
//
// Invariants:
//   - A write is resent only after an answer proving it was not applied
//     (the node said unavailable or closed, or the connection was never
//     established). A write whose outcome is unknown is reported with an
//     error wrapping concord.ErrTimeout and never resent.
//   - Every call is bounded by its context's deadline, or by
//     Config.Timeout when the context has none.
//   - Errors wrap the sentinels of package concord, recovered from the
//     code a node puts in front of its status message, so errors.Is works
//     through the client as it does in process.
//
// The package must never validate keys, values or batch sizes itself (the
// serving node does, with the cluster's limits), nor import anything that
// would make the root package depend on it.
package client
