package linearize

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

func op(client int, call, ret int64, in Input, out Output) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func TestModelAcceptsLinearizableHistory(t *testing.T) {
	h := []porcupine.Operation{
		op(0, 0, 10, Input{Kind: Put, Key: "a", Value: "1"}, Output{OK: true}),
		op(1, 5, 15, Input{Kind: Get, Key: "a"}, Output{Found: true, Value: "1"}),
		op(0, 20, 30, Input{Kind: CAS, Key: "a", Expected: "1", Value: "2"}, Output{OK: true}),
		op(1, 31, 40, Input{Kind: CAS, Key: "a", Expected: "1", Value: "3"}, Output{OK: false}),
		op(2, 41, 1<<62, Input{Kind: Delete, Key: "a"}, Output{Unknown: true}),
		op(1, 50, 60, Input{Kind: Get, Key: "a"}, Output{Found: true, Value: "2"}),
		op(1, 61, 70, Input{Kind: Get, Key: "b"}, Output{}),
	}
	if !porcupine.CheckOperations(Model, h) {
		t.Fatal("a linearizable history was rejected")
	}
}

func TestModelRejectsStaleRead(t *testing.T) {
	h := []porcupine.Operation{
		op(0, 0, 10, Input{Kind: Put, Key: "a", Value: "1"}, Output{OK: true}),
		op(0, 11, 20, Input{Kind: Put, Key: "a", Value: "2"}, Output{OK: true}),
		op(1, 21, 30, Input{Kind: Get, Key: "a"}, Output{Found: true, Value: "1"}),
	}
	if porcupine.CheckOperations(Model, h) {
		t.Fatal("a stale read was accepted")
	}
	lost := []porcupine.Operation{
		op(0, 0, 10, Input{Kind: Put, Key: "a", Value: "1"}, Output{OK: true}),
		op(1, 11, 20, Input{Kind: Delete, Key: "a"}, Output{OK: false}),
	}
	if porcupine.CheckOperations(Model, lost) {
		t.Fatal("a delete that missed an acknowledged write was accepted")
	}
}
