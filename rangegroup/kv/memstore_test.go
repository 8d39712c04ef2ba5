package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sort"
)

// memStore is the in-memory ordered Store the tests use: a sorted slice of
// keys beside a map of values.
type memStore struct {
	keys []string
	vals map[string][]byte
}

func newMemStore() *memStore { return &memStore{vals: map[string][]byte{}} }

func (m *memStore) Get(k []byte) ([]byte, bool, error) {
	v, ok := m.vals[string(k)]
	return v, ok, nil
}

func (m *memStore) Iterate(lo, hi []byte, fn func(k, v []byte) bool) error {
	i := sort.SearchStrings(m.keys, string(lo))
	for ; i < len(m.keys) && m.keys[i] < string(hi); i++ {
		if !fn([]byte(m.keys[i]), m.vals[m.keys[i]]) {
			break
		}
	}
	return nil
}

func (m *memStore) Set(k, v []byte) error {
	if _, ok := m.vals[string(k)]; !ok {
		i := sort.SearchStrings(m.keys, string(k))
		m.keys = slices.Insert(m.keys, i, string(k))
	}
	m.vals[string(k)] = bytes.Clone(v)
	return nil
}

func (m *memStore) Delete(k []byte) error {
	if _, ok := m.vals[string(k)]; !ok {
		return nil
	}
	i := sort.SearchStrings(m.keys, string(k))
	m.keys = slices.Delete(m.keys, i, i+1)
	delete(m.vals, string(k))
	return nil
}

// dump is the whole contents as bytes, in key order: two stores are equal
// exactly when their dumps are.
func (m *memStore) dump() []byte {
	var b []byte
	for _, k := range m.keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(m.vals[k])))
		b = append(b, m.vals[k]...)
	}
	return b
}

func (m *memStore) len() int { return len(m.keys) }

// errStore fails the chosen calls with errBoom.
type errStore struct {
	*memStore
	failGet, failIterate, failSet, failDelete bool
}

var errBoom = errors.New("boom")

func (s *errStore) Get(k []byte) ([]byte, bool, error) {
	if s.failGet {
		return nil, false, errBoom
	}
	return s.memStore.Get(k)
}

func (s *errStore) Iterate(lo, hi []byte, fn func(k, v []byte) bool) error {
	if s.failIterate {
		return errBoom
	}
	return s.memStore.Iterate(lo, hi, fn)
}

func (s *errStore) Set(k, v []byte) error {
	if s.failSet {
		return errBoom
	}
	return s.memStore.Set(k, v)
}

func (s *errStore) Delete(k []byte) error {
	if s.failDelete {
		return errBoom
	}
	return s.memStore.Delete(k)
}
