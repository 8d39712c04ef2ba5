// Package raftwirepb holds the generated protobuf and gRPC code of the raft
// message and snapshot streams. Regenerate with `go generate
// ./transport/raftwire/raftwirepb` (needs protoc, protoc-gen-go and
// protoc-gen-go-grpc on PATH; see the Makefile target `proto`).
package raftwirepb

//go:generate protoc --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. raftwire.proto
