// Package kvpb holds the generated protobuf and gRPC code of Concord's
// public key-value service (concord.kv.v1.KV), which every node serves and
// the Go client (api/client) and other languages' clients call. It is the
// public wire, distinct from rangegroup/kv/kvpb (the state machine's
// internal command format), so that either can change without the other.
// Regenerate with `go generate ./api/kvpb` (see the Makefile target
// `proto`). It must never hold hand-written logic.
package kvpb

//go:generate protoc --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. kv_service.proto
