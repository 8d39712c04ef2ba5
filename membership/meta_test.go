package membership

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	for _, m := range []map[string]string{
		nil,
		{},
		{"": ""},
		{"role": "kv", "zone": "eu-1", "grpc": "10.0.0.1:7000"},
		{"long": strings.Repeat("v", 300), "k\x00": "\xff"},
	} {
		for _, f := range []metaFlags{0, flagLeaving} {
			b, err := encodeMeta(m, f)
			if err != nil {
				t.Fatalf("encode %v: %v", m, err)
			}
			got, flags, err := decodeMeta(b)
			if err != nil || flags != f || !maps.Equal(got, m) || got == nil {
				t.Fatalf("round trip of %v/%d = %v/%d, %v", m, f, got, flags, err)
			}
		}
	}
	a, _ := encodeMeta(map[string]string{"a": "1", "b": "2", "c": "3"}, 0)
	b, _ := encodeMeta(map[string]string{"c": "3", "a": "1", "b": "2"}, 0)
	if string(a) != string(b) {
		t.Fatal("encoding is not deterministic")
	}
}

func TestMetaLimitAndGarbage(t *testing.T) {
	t.Parallel()
	// version + flags + uvarint(1) + "k" + uvarint(len v) (2 bytes) + v.
	if _, err := encodeMeta(map[string]string{"k": strings.Repeat("x", MaxMetaSize-6)}, 0); err != nil {
		t.Fatalf("meta at the limit rejected: %v", err)
	}
	if _, err := encodeMeta(map[string]string{"k": strings.Repeat("x", MaxMetaSize-5)}, 0); !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("meta over the limit: %v", err)
	}
	for _, b := range [][]byte{{9}, {metaVersion, 0, 5, 'a'}, {metaVersion, 0, 1, 'a', 3}} {
		if got, _, err := decodeMeta(b); err == nil || got == nil {
			t.Fatalf("decode(%v) = %v, %v; want error and empty map", b, got, err)
		}
	}
}

func TestDetectionTimeFormula(t *testing.T) {
	t.Parallel()
	ft := FastTiming()
	// 200ms probe + 100ms timeout + 3 * 1 * 200ms suspicion.
	if got := detectionTime(ft, 5); got != 900*time.Millisecond {
		t.Fatalf("fast, 5 nodes: %v", got)
	}
	// log10(100) = 2 doubles the suspicion term.
	if got := detectionTime(ft, 100); got != 1500*time.Millisecond {
		t.Fatalf("fast, 100 nodes: %v", got)
	}
	// LAN: 1s + 500ms + 4 * 1 * 1s.
	if got := detectionTime(LANTiming(), 1); got != 5500*time.Millisecond {
		t.Fatalf("lan, 1 node: %v", got)
	}
}
