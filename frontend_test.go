package concord

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestResolveOptions(t *testing.T) {
	t.Parallel()
	o, err := ResolveOptions("PutIf", WithTTL(0), IfValue(nil), IfVersion(3), IfExists())
	if err != nil || !o.HasTTL || o.TTL != 0 || o.Conditions == nil || o.Conditions.Value == nil ||
		*o.Conditions.Version != 3 || o.Conditions.ModRevision != nil || !o.Conditions.MustExist {
		t.Fatalf("PutIf options: %+v, %v", o, err)
	}
	o, err = ResolveOptions("Scan", WithPrefix([]byte("p")), WithKeysOnly(), WithConsistency(Eventual))
	if err != nil || string(o.Prefix) != "p" || !o.KeysOnly || o.Consistency != Eventual || o.Conditions != nil {
		t.Fatalf("Scan options: %+v, %v", o, err)
	}
	for name, call := range map[string]func() error{
		"option not taken": func() error { _, err := ResolveOptions("Get", WithTTL(time.Second)); return err },
		"repeated":         func() error { _, err := ResolveOptions("DeleteIf", IfVersion(1), IfVersion(2)); return err },
		"ttl and keep":     func() error { _, err := ResolveOptions("Put", WithTTL(time.Second), WithKeepTTL()); return err },
		"negative ttl":     func() error { _, err := ResolveOptions("OpPut", WithTTL(-1)); return err },
		"unknown level":    func() error { _, err := ResolveOptions("Get", WithConsistency(Consistency(99))); return err },
		"unknown method":   func() error { _, err := ResolveOptions("Frobnicate"); return err },
	} {
		if err := call(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPositionIsTheNodes(t *testing.T) {
	t.Parallel()
	n := &Node{hash: func(b []byte) uint64 { return uint64(len(b)) * 0x9e3779b97f4a7c15 }, mask: 1<<20 - 1}
	for _, k := range []string{"a", "{tag}:x", "{tag}:yy", "no{close", "{}x"} {
		if got, want := Position([]byte(k), n.hash, 20), n.position([]byte(k)); got != want {
			t.Errorf("Position(%q) = %x, node places it at %x", k, got, want)
		}
	}
	if Position([]byte("k"), nil, 0) != Position([]byte("k"), nil, 64) {
		t.Error("0 and 64 hash bits differ")
	}
}

func TestSpecsRoundTrip(t *testing.T) {
	t.Parallel()
	k := []byte("k")
	for _, c := range []Compare{CompareValue(k, CmpLess, []byte("v")), CompareVersion(k, CmpGreater, 2), CompareCreateRevision(k, CmpNotEqual, 3), CompareModRevision(k, CmpEqual, 4), KeyExists(k), KeyMissing(k)} {
		s, err := c.Spec()
		if err != nil || !bytes.Equal(s.Key, k) {
			t.Fatalf("spec %+v, %v", s, err)
		}
		var back Compare
		switch s.Target {
		case TargetValue:
			back = CompareValue(s.Key, s.Op, s.Value)
		case TargetVersion:
			back = CompareVersion(s.Key, s.Op, s.Number)
		case TargetCreateRevision:
			back = CompareCreateRevision(s.Key, s.Op, s.Number)
		case TargetModRevision:
			back = CompareModRevision(s.Key, s.Op, s.Number)
		case TargetExists:
			back = KeyExists(s.Key)
		case TargetMissing:
			back = KeyMissing(s.Key)
		}
		if bs, _ := back.Spec(); bs.Target != s.Target || bs.Op != s.Op || bs.Number != s.Number || !bytes.Equal(bs.Value, s.Value) {
			t.Fatalf("round trip of %+v gave %+v", s, bs)
		}
	}
	if _, err := (Compare{}).Spec(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("zero compare: %v", err)
	}
	if _, err := CompareValue(k, CompareOp(9), nil).Spec(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad operator: %v", err)
	}
	s, err := OpPut(k, []byte("v"), WithTTL(time.Minute)).Spec()
	if err != nil || s.Kind != OpKindPut || string(s.Value) != "v" || s.TTL != time.Minute || s.KeepTTL {
		t.Fatalf("put spec %+v, %v", s, err)
	}
	if s, err := OpPut(k, nil, WithKeepTTL()).Spec(); err != nil || !s.KeepTTL {
		t.Fatalf("keep-ttl put spec %+v, %v", s, err)
	}
	if s, err := OpDelete(k).Spec(); err != nil || s.Kind != OpKindDelete {
		t.Fatalf("delete spec %+v, %v", s, err)
	}
	if s, err := OpGet(k).Spec(); err != nil || s.Kind != OpKindGet {
		t.Fatalf("get spec %+v, %v", s, err)
	}
	if _, err := OpPut(k, nil, WithKeysOnly()).Spec(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad op option: %v", err)
	}
	if _, err := (Op{}).Spec(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("zero op: %v", err)
	}
}
