// Package adminpb holds the generated protobuf and gRPC code of Concord's
// admin service, which operators' tools (`concord-node status`) call on a
// running node. Regenerate with `go generate ./api/adminpb` (see the
// Makefile target `proto`).
package adminpb

//go:generate protoc --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. admin.proto
