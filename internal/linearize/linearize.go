// Package linearize records histories of key-value operations and checks
// them for linearizability, key by key, with porcupine. On a violation it
// writes porcupine's HTML visualization of the history.
//
// It is test support only: production code must never import it.
package linearize

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Kind is an operation of the model.
type Kind int

const (
	// Get reads a key.
	Get Kind = iota
	// Put writes a key unconditionally.
	Put
	// CAS writes New if the key holds Expected.
	CAS
	// Delete removes a key; Found says whether it existed.
	Delete
)

// Input is what a client asked.
type Input struct {
	Kind     Kind
	Key      string
	Value    string // Put, CAS: the new value
	Expected string // CAS
}

// Output is what the client was told. Unknown marks an operation whose
// outcome the client never learned (a timeout after the write may have been
// proposed): it may have taken effect at any point after its call, or never.
type Output struct {
	Unknown bool
	OK      bool   // CAS: the swap happened; Delete: the key existed
	Found   bool   // Get: the key exists
	Value   string // Get: its value
}

// state is one key's value; a missing key has exists == false.
type state struct {
	exists bool
	value  string
}

// Model is the per-key register model of the store.
var Model = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := make(map[string][]porcupine.Operation)
		var keys []string
		for _, op := range h {
			k := op.Input.(Input).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return state{} },
	Step: func(st, in, out any) (bool, any) {
		s, i, o := st.(state), in.(Input), out.(Output)
		switch i.Kind {
		case Get:
			return o.Found == s.exists && (!s.exists || o.Value == s.value), s
		case Put:
			return true, state{exists: true, value: i.Value}
		case CAS:
			match := s.exists && s.value == i.Expected
			if o.Unknown {
				if match {
					return true, state{exists: true, value: i.Value}
				}
				return true, s
			}
			if o.OK != match {
				return false, s
			}
			if match {
				return true, state{exists: true, value: i.Value}
			}
			return true, s
		case Delete:
			if !o.Unknown && o.OK != s.exists {
				return false, s
			}
			return true, state{}
		}
		return false, s
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(Input), out.(Output)
		res := "?"
		switch {
		case o.Unknown:
		case i.Kind == Get && o.Found:
			res = fmt.Sprintf("%q", o.Value)
		case i.Kind == Get:
			res = "missing"
		default:
			res = fmt.Sprint(o.OK)
		}
		switch i.Kind {
		case Get:
			return fmt.Sprintf("get(%s) -> %s", i.Key, res)
		case Put:
			return fmt.Sprintf("put(%s, %q) -> %s", i.Key, i.Value, res)
		case CAS:
			return fmt.Sprintf("cas(%s, %q -> %q) -> %s", i.Key, i.Expected, i.Value, res)
		default:
			return fmt.Sprintf("delete(%s) -> %s", i.Key, res)
		}
	},
	DescribeState: func(st any) string {
		s := st.(state)
		if !s.exists {
			return "missing"
		}
		return fmt.Sprintf("%q", s.value)
	},
}

// History collects operations from concurrent clients.
type History struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
}

// NewHistory starts an empty history.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the history's clock, for Call and Return stamps.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Add records one operation. An Unknown output gets a return time after
// every other operation, so the checker may place its effect anywhere after
// its call, or nowhere.
func (h *History) Add(client int, in Input, call int64, out Output) {
	ret := h.Now()
	if out.Unknown {
		ret = int64(1) << 62
	}
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	h.mu.Unlock()
}

// Len is the number of operations recorded.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

// Each calls fn for every operation recorded so far, in the order added.
func (h *History) Each(fn func(in Input, out Output)) {
	h.mu.Lock()
	ops := append([]porcupine.Operation(nil), h.ops...)
	h.mu.Unlock()
	for _, op := range ops {
		fn(op.Input.(Input), op.Output.(Output))
	}
}

// Check fails t if the history is not linearizable (or the checker ran out
// of time), saving the visualization to a file it names.
func (h *History) Check(t testing.TB, name string) {
	t.Helper()
	h.mu.Lock()
	ops := append([]porcupine.Operation(nil), h.ops...)
	h.mu.Unlock()
	res, info := porcupine.CheckOperationsVerbose(Model, ops, time.Minute)
	if res == porcupine.Ok {
		return
	}
	dir, err := os.MkdirTemp("", "concord-porcupine-")
	if err != nil {
		t.Fatalf("%s: history is %s (%d ops); cannot save it: %v", name, res, len(ops), err)
	}
	path := filepath.Join(dir, name+".html")
	if err := porcupine.VisualizePath(Model, info, path); err != nil {
		t.Fatalf("%s: history is %s (%d ops); cannot visualize it: %v", name, res, len(ops), err)
	}
	t.Fatalf("%s: history is %s (%d ops); see %s", name, res, len(ops), path)
}
