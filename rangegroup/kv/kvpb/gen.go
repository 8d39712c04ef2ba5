// Package kvpb holds the generated protobuf code of the key-value state
// machine's commands and results: the writes proposed through Raft, the
// reads served from a replica's state, and the per-item results and error
// codes every replica computes. Regenerate with `go generate
// ./rangegroup/kv/kvpb` (needs protoc and protoc-gen-go on PATH; see the
// Makefile target `proto`).
package kvpb

//go:generate protoc --go_out=paths=source_relative:. kv.proto
