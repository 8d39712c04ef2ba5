// Package ringpb holds the generated protobuf and gRPC code of the ring
// protocol. Regenerate with `go generate ./ring/ringpb` (needs protoc,
// protoc-gen-go and protoc-gen-go-grpc on PATH; see the Makefile target
// `proto`).
package ringpb

//go:generate protoc --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. ring.proto
