// Package fuzz holds Concord's fuzz targets that cross package boundaries:
// they drive the ring over the in-memory transport and compare what it does
// with small reference models. Everything lives in _test.go files; the
// package exports nothing and must never be imported.
//
// Run the seed corpora as ordinary tests with
//
//	go test ./fuzz/
//
// and fuzz one target with, for example,
//
//	go test ./fuzz -run='^$' -fuzz=FuzzRingChurn -fuzztime=2m
package fuzz
