package storage

import (
	"encoding/binary"
	"math"
)

// Key layout. The first byte of every engine key says which kind of data it
// is; the kinds sort in this order, so each kind is one contiguous span.
//
//	0x01 name                        node-local metadata (identity, cluster id)
//	0x02 rangeID(8) 'a'              applied state of a range
//	0x02 rangeID(8) 'h'              Raft hard state of a range
//	0x02 rangeID(8) 'l' index(8)     Raft log entry of a range
//	0x02 rangeID(8) 't'              truncated state of a range's log
//	0x03 position(8) userkey         user data, ordered by (position, key)
//
// Integers are big-endian so that byte order is numeric order. Because user
// data is ordered by ring position first, the keys of a range (start, end]
// are one contiguous span, or two when the arc wraps past zero.
const (
	prefixNode  byte = 0x01
	prefixRange byte = 0x02
	prefixUser  byte = 0x03
	prefixEnd   byte = 0x04 // first byte after all user data

	suffixApplied   byte = 'a'
	suffixHardState byte = 'h'
	suffixLog       byte = 'l'
	suffixTruncated byte = 't'
)

// NodeKey is the engine key of the node-local metadata item name.
func NodeKey(name string) []byte {
	k := make([]byte, 0, 1+len(name))
	k = append(k, prefixNode)
	return append(k, name...)
}

func rangeKey(rangeID uint64, suffix byte, extra int) []byte {
	k := make([]byte, 10, 10+extra)
	k[0] = prefixRange
	binary.BigEndian.PutUint64(k[1:], rangeID)
	k[9] = suffix
	return k
}

// AppliedStateKey is the engine key of a range's applied state.
func AppliedStateKey(rangeID uint64) []byte { return rangeKey(rangeID, suffixApplied, 0) }

// HardStateKey is the engine key of a range's Raft hard state.
func HardStateKey(rangeID uint64) []byte { return rangeKey(rangeID, suffixHardState, 0) }

// TruncatedStateKey is the engine key of a range's log truncation point.
func TruncatedStateKey(rangeID uint64) []byte { return rangeKey(rangeID, suffixTruncated, 0) }

// LogKey is the engine key of the Raft log entry at index in a range's log.
func LogKey(rangeID, index uint64) []byte {
	k := rangeKey(rangeID, suffixLog, 8)
	return binary.BigEndian.AppendUint64(k, index)
}

// LogSpan is the span holding every log entry of a range.
func LogSpan(rangeID uint64) Span {
	return Span{Start: LogKey(rangeID, 0), End: rangeKey(rangeID, suffixLog+1, 0)}
}

// RangeLocalSpan is the span holding every range-local key of a range: its
// applied, hard and truncated state and its log.
func RangeLocalSpan(rangeID uint64) Span {
	start := []byte{prefixRange}
	start = binary.BigEndian.AppendUint64(start, rangeID)
	if rangeID == math.MaxUint64 {
		return Span{Start: start, End: []byte{prefixRange + 1}}
	}
	end := []byte{prefixRange}
	end = binary.BigEndian.AppendUint64(end, rangeID+1)
	return Span{Start: start, End: end}
}

// DecodeRangeLocalKey splits a range-local key into its range id and suffix
// byte; ok is false for any other kind of key.
func DecodeRangeLocalKey(k []byte) (rangeID uint64, suffix byte, ok bool) {
	if len(k) < 10 || k[0] != prefixRange {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k[1:9]), k[9], true
}

// UserKey is the engine key of user key key at ring position pos.
func UserKey(pos uint64, key []byte) []byte {
	k := make([]byte, 9, 9+len(key))
	k[0] = prefixUser
	binary.BigEndian.PutUint64(k[1:], pos)
	return append(k, key...)
}

// DecodeUserKey splits an engine key of user data into its position and user
// key. The returned key aliases k. ok is false for any other kind of key.
func DecodeUserKey(k []byte) (pos uint64, key []byte, ok bool) {
	if len(k) < 9 || k[0] != prefixUser {
		return 0, nil, false
	}
	return binary.BigEndian.Uint64(k[1:9]), k[9:], true
}

// Span is the half-open interval [Start, End) of engine keys.
type Span struct {
	Start, End []byte
}

// positionBound is the first engine key of user data at position pos, or the
// end of all user data when pos overflows past the last position.
func positionBound(pos uint64, overflow bool) []byte {
	if overflow {
		return []byte{prefixEnd}
	}
	return UserKey(pos, nil)
}

// UserSpans returns the engine-key spans of user data whose position lies in
// the arc (start, end]. When start == end the arc is the whole circle. An
// arc that wraps past zero yields two spans, in key order.
func UserSpans(start, end uint64) []Span {
	all := Span{Start: []byte{prefixUser}, End: []byte{prefixEnd}}
	switch {
	case start == end:
		return []Span{all}
	case start < end:
		// Positions start+1 .. end inclusive; start+1 cannot overflow here.
		return []Span{{Start: UserKey(start+1, nil), End: positionBound(end+1, end == math.MaxUint64)}}
	default:
		// Wraps: [0, end] then (start, max].
		var spans []Span
		spans = append(spans, Span{Start: all.Start, End: positionBound(end+1, end == math.MaxUint64)})
		if start != math.MaxUint64 {
			spans = append(spans, Span{Start: UserKey(start+1, nil), End: all.End})
		}
		return spans
	}
}
