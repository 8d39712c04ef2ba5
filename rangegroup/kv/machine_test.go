package kv

import (
	"bytes"
	"errors"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage"
)

func TestMachineConfiguration(t *testing.T) {
	t.Parallel()
	s := newMemStore()
	zero := &Machine{Position: testPosition} // zero Limits mean the defaults
	resp, err := zero.Apply(s, whole, 1, 0, put("k", string(make([]byte, DefaultMaxValueSize))))
	if err != nil || resp.GetCode() != kvpb.ErrorCode_OK {
		t.Fatalf("zero limits: %v, %v", resp, err)
	}
	resp, err = zero.Apply(s, whole, 2, 0, put("k", string(make([]byte, DefaultMaxValueSize+1))))
	if err != nil || resp.GetCode() != kvpb.ErrorCode_VALUE_TOO_LARGE {
		t.Fatalf("zero limits, large value: %v, %v", resp, err)
	}

	bad := []*Machine{
		{Limits: Limits{MaxKeySize: 1, MaxValueSize: 17 << 20, MaxBatchItems: 1}, Position: testPosition},
		{Limits: DefaultLimits()},
	}
	for _, m := range bad {
		before := s.dump()
		if _, err := m.Apply(s, whole, 3, 0, put("k", "v")); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Apply with %+v: %v", m.Limits, err)
		}
		if _, err := m.Read(s, whole, 0, getReq("k")); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Read with %+v: %v", m.Limits, err)
		}
		if _, err := m.Expired(s, whole, 0, 1); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Expired with %+v: %v", m.Limits, err)
		}
		if !bytes.Equal(before, s.dump()) {
			t.Fatal("misconfigured machine wrote")
		}
	}
	if _, err := newMachine().Apply(s, whole, 0, 0, put("k", "v")); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("revision 0: %v", err)
	}
}

func TestStoreFailuresAreErrors(t *testing.T) {
	t.Parallel()
	m := newMachine()
	seed := func() *errStore {
		s := &errStore{memStore: newMemStore()}
		if _, err := m.Apply(s, whole, 1, 0, put("k", "v")); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := seed()
	s.failGet = true
	if _, err := m.Apply(s, whole, 2, 0, put("k", "w")); !errors.Is(err, errBoom) {
		t.Fatalf("apply with failing Get: %v", err)
	}
	if _, err := m.Read(s, whole, 0, getReq("k")); !errors.Is(err, errBoom) {
		t.Fatalf("read with failing Get: %v", err)
	}
	s = seed()
	s.failSet = true
	if _, err := m.Apply(s, whole, 2, 0, put("k", "w")); !errors.Is(err, errBoom) {
		t.Fatalf("apply with failing Set: %v", err)
	}
	s = seed()
	s.failDelete = true
	if _, err := m.Apply(s, whole, 2, 0, del("k", nil)); !errors.Is(err, errBoom) {
		t.Fatalf("apply with failing Delete: %v", err)
	}
	s = seed()
	s.failIterate = true
	if _, err := m.Read(s, whole, 0, scanReq(nil, 0, false)); !errors.Is(err, errBoom) {
		t.Fatalf("scan with failing Iterate: %v", err)
	}
	if _, err := m.Expired(s, whole, 0, 5); !errors.Is(err, errBoom) {
		t.Fatalf("expired with failing Iterate: %v", err)
	}
}

func TestCorruptRecordIsAnError(t *testing.T) {
	t.Parallel()
	m := newMachine()
	s := newMemStore()
	if err := s.Set(ekeyOf(m, "k"), []byte{9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(s, whole, 1, 0, put("k", "v")); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("apply over a corrupt record: %v", err)
	}
	if _, err := m.Read(s, whole, 0, getReq("k")); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("get of a corrupt record: %v", err)
	}
	if _, err := m.Read(s, whole, 0, scanReq(nil, 0, false)); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("scan over a corrupt record: %v", err)
	}
	if _, err := m.Expired(s, whole, 0, 5); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("expired over a corrupt record: %v", err)
	}
}

// Engine keys just outside the user data span are never read as user data.
func TestScanIgnoresOtherKeyKinds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("k", "v")
	all := storage.UserSpans(0, 0)[0]
	before := append(bytes.Clone(all.Start[:len(all.Start)-1]), all.Start[len(all.Start)-1]-1, 0xff)
	for _, k := range [][]byte{before, all.End, append(bytes.Clone(all.End), 1)} {
		if err := f.s.Set(k, []byte("not a record")); err != nil {
			t.Fatal(err)
		}
	}
	resp := f.read(scanReq(nil, 0, false))
	if len(resp.GetResults()) != 1 || string(resp.GetResults()[0].GetKey()) != "k" {
		t.Fatalf("scan %v", resp.GetResults())
	}
}

func TestMachineValidate(t *testing.T) {
	t.Parallel()
	zero := &Machine{Position: testPosition}
	if err := zero.Validate(put("k", "v")); err != nil {
		t.Fatalf("zero limits mean the defaults: %v", err)
	}
	if err := zero.Validate(put("", "v")); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("empty key: %v", err)
	}
	if err := (&Machine{Limits: DefaultLimits()}).Validate(put("k", "v")); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("machine without Position: %v", err)
	}
}
