// Package storagepb holds the generated protobuf code of the per-range state
// that package storage persists: descriptors, applied and truncated state.
// Regenerate with `go generate ./storage/storagepb` (needs protoc and
// protoc-gen-go on PATH; see the Makefile target `proto`).
package storagepb

//go:generate protoc --go_out=paths=source_relative:. storage.proto
