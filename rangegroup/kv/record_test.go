package kv

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []Record{
		{Value: []byte("hello"), CreateRevision: 1, ModRevision: 1, Version: 1},
		{Value: nil, CreateRevision: 3, ModRevision: 9, Version: 4, ExpiresAt: 1_700_000_000_000_000_000},
		{Value: bytes.Repeat([]byte{0xff}, 1000), CreateRevision: math.MaxUint64, ModRevision: math.MaxUint64,
			Version: math.MaxUint64, ExpiresAt: math.MaxInt64},
		{Value: []byte{0}, CreateRevision: 127, ModRevision: 128, Version: 300, ExpiresAt: -5},
	}
	for _, want := range cases {
		b := EncodeRecord(&want)
		if len(b) != encodedSize(&want) || cap(b) != len(b) {
			t.Fatalf("encoding is %d bytes (cap %d), encodedSize says %d", len(b), cap(b), encodedSize(&want))
		}
		got, err := DecodeRecord(b)
		if err != nil {
			t.Fatalf("decode %x: %v", b, err)
		}
		if !bytes.Equal(got.Value, want.Value) || got.CreateRevision != want.CreateRevision ||
			got.ModRevision != want.ModRevision || got.Version != want.Version || got.ExpiresAt != want.ExpiresAt {
			t.Fatalf("round trip %+v -> %+v", want, got)
		}
	}
}

// The documented layout, byte for byte: replicas and tools written later
// depend on it not drifting.
func TestRecordLayout(t *testing.T) {
	t.Parallel()
	r := Record{Value: []byte("v"), CreateRevision: 1, ModRevision: 300, Version: 2, ExpiresAt: 0x0102030405060708}
	want := []byte{
		1,          // format
		0x02,       // flags: expires
		1,          // create_revision
		0xac, 0x02, // mod_revision 300 as uvarint
		2,                                              // version
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // expires_at
		'v',
	}
	if got := EncodeRecord(&r); !bytes.Equal(got, want) {
		t.Fatalf("encoding %x, want %x", got, want)
	}
	noExpiry := Record{Value: []byte("v"), CreateRevision: 1, ModRevision: 1, Version: 1}
	if got := EncodeRecord(&noExpiry); !bytes.Equal(got, []byte{1, 0, 1, 1, 1, 'v'}) {
		t.Fatalf("encoding without expiry %x", got)
	}
}

func TestDecodeRecordRejectsCorruption(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{
		"empty":              {},
		"one byte":           {1},
		"unknown format":     {2, 0, 1, 1, 1},
		"unknown flag":       {1, 0x04, 1, 1, 1},
		"compressed":         {1, 0x01, 1, 1, 1},
		"missing varints":    {1, 0, 1},
		"overlong varint":    {1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1},
		"truncated expiry":   {1, 0x02, 1, 1, 1, 0, 0, 0},
		"zero expiry w/flag": {1, 0x02, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0},
	}
	for name, b := range cases {
		if _, err := DecodeRecord(b); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s: DecodeRecord(%x) = %v, want ErrCorruptRecord", name, b, err)
		}
	}
}

func TestRecordExpired(t *testing.T) {
	t.Parallel()
	never := Record{}
	if never.Expired(math.MaxInt64) {
		t.Fatal("a record without expiry expired")
	}
	r := Record{ExpiresAt: 100}
	if r.Expired(99) {
		t.Fatal("expired before its time")
	}
	if !r.Expired(100) {
		t.Fatal("not expired at exactly its expiry")
	}
	if !r.Expired(101) {
		t.Fatal("not expired after its expiry")
	}
}
