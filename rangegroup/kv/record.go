package kv

import (
	"encoding/binary"
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// Record encoding: the bytes stored under a user key's engine key.
//
//	offset  size      field
//	0       1         format, always recordFormat (1)
//	1       1         flags: bit 0 compressed (reserved: this version never
//	                  writes it and refuses to decode it), bit 1 expires;
//	                  every other bit must be zero
//	2       uvarint   create_revision
//	        uvarint   mod_revision
//	        uvarint   version
//	        8         expires_at, big-endian int64 unix nanos; present only
//	                  when the expires flag is set
//	        rest      the value bytes
//
// A record is at least 5 bytes (format, flags, three one-byte varints);
// a typical one with an expiry is about 20 bytes of header. The format byte
// lets a later version change the layout while still reading this one; an
// unknown format or flag is reported as ErrCorruptRecord rather than
// guessed at, because a replica that misreads a record would diverge.
const (
	recordFormat byte = 1

	flagCompressed byte = 1 << 0
	flagExpires    byte = 1 << 1
	knownFlags          = flagCompressed | flagExpires
)

// Record is a stored key's value and metadata, as kept in the engine.
type Record struct {
	// Value is the value bytes.
	Value []byte
	// CreateRevision is the revision of the command that created the key.
	CreateRevision uint64
	// ModRevision is the revision of the last command that wrote the key.
	ModRevision uint64
	// Version counts writes since creation: 1 when created.
	Version uint64
	// ExpiresAt is the expiry in unix nanoseconds of the state machine
	// clock; 0 means never.
	ExpiresAt int64
}

// Expired reports whether the record has expired at now. A record expires
// at its ExpiresAt instant: at now == ExpiresAt it is already gone.
func (r *Record) Expired(now int64) bool {
	return r.ExpiresAt != 0 && r.ExpiresAt <= now
}

// AppendRecord appends the encoding of r to dst and returns the result.
func AppendRecord(dst []byte, r *Record) []byte {
	var flags byte
	if r.ExpiresAt != 0 {
		flags |= flagExpires
	}
	dst = append(dst, recordFormat, flags)
	dst = binary.AppendUvarint(dst, r.CreateRevision)
	dst = binary.AppendUvarint(dst, r.ModRevision)
	dst = binary.AppendUvarint(dst, r.Version)
	if r.ExpiresAt != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.ExpiresAt))
	}
	return append(dst, r.Value...)
}

// encodedSize is the exact length of r's encoding, so encoding allocates
// once.
func encodedSize(r *Record) int {
	n := 2 + uvarintLen(r.CreateRevision) + uvarintLen(r.ModRevision) + uvarintLen(r.Version) + len(r.Value)
	if r.ExpiresAt != 0 {
		n += 8
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// EncodeRecord returns the encoding of r in a new slice.
func EncodeRecord(r *Record) []byte {
	return AppendRecord(make([]byte, 0, encodedSize(r)), r)
}

// DecodeRecord decodes a record. The returned Value aliases b. Errors wrap
// ErrCorruptRecord.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if len(b) < 2 {
		return r, fmt.Errorf("%w: %d bytes, shorter than a header", ErrCorruptRecord, len(b))
	}
	if b[0] != recordFormat {
		return r, fmt.Errorf("%w: unknown format %d", ErrCorruptRecord, b[0])
	}
	flags := b[1]
	if flags&^knownFlags != 0 {
		return r, fmt.Errorf("%w: unknown flags %#x", ErrCorruptRecord, flags)
	}
	if flags&flagCompressed != 0 {
		return r, fmt.Errorf("%w: compressed records are not supported by this version", ErrCorruptRecord)
	}
	rest := b[2:]
	for _, field := range []*uint64{&r.CreateRevision, &r.ModRevision, &r.Version} {
		x, n := binary.Uvarint(rest)
		if n <= 0 {
			return Record{}, fmt.Errorf("%w: bad varint in header", ErrCorruptRecord)
		}
		*field = x
		rest = rest[n:]
	}
	if flags&flagExpires != 0 {
		if len(rest) < 8 {
			return Record{}, fmt.Errorf("%w: truncated expiry", ErrCorruptRecord)
		}
		r.ExpiresAt = int64(binary.BigEndian.Uint64(rest))
		rest = rest[8:]
		if r.ExpiresAt == 0 {
			return Record{}, fmt.Errorf("%w: expires flag with zero expiry", ErrCorruptRecord)
		}
	}
	r.Value = rest
	return r, nil
}

// toValue is r's wire form; the value bytes only when withValue.
func (r *Record) toValue(withValue bool) *kvpb.Value {
	v := &kvpb.Value{
		CreateRevision: r.CreateRevision,
		ModRevision:    r.ModRevision,
		Version:        r.Version,
		ExpiresAt:      r.ExpiresAt,
	}
	if withValue {
		v.Value = r.Value
	}
	return v
}
