// Package routerpb holds the generated protobuf and gRPC code of the
// router's node-to-node Forward service: one request served by the
// receiving node's own replica, answered with the response or a structured
// error plus what the node knows of the range (descriptor, leader).
// Regenerate with `go generate ./router/routerpb` (needs protoc,
// protoc-gen-go and protoc-gen-go-grpc on PATH; see the Makefile target
// `proto`).
package routerpb

//go:generate protoc --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. router.proto
