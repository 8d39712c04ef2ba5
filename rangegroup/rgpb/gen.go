// Package rgpb holds the generated protobuf code of what the multi-raft
// engine writes into Raft logs and sends in snapshot headers. Regenerate
// with `go generate ./rangegroup/rgpb` (see the Makefile target `proto`).
package rgpb

//go:generate protoc --go_out=paths=source_relative:. rangegroup.proto
