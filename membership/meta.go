package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/memberlist"
)

// MaxMetaSize is the largest encoded metadata memberlist accepts (it panics
// beyond it, so this package checks first).
const MaxMetaSize = memberlist.MetaMaxSize

// ErrMetaTooLarge is returned (wrapped) when metadata does not fit in
// MaxMetaSize bytes once encoded.
var ErrMetaTooLarge = errors.New("membership: metadata too large")

// metaVersion is the first byte of every encoding, so the format can evolve.
const metaVersion = 1

// metaFlags are bits gossiped beside the user's metadata, invisible to it.
type metaFlags byte

// flagLeaving is set just before a graceful leave, so peers can tell a
// departure (Left) from a crash (Failed): memberlist reports both through the
// same NotifyLeave callback with no way to tell them apart.
const flagLeaving metaFlags = 1

// encodeMeta encodes meta as: version byte, flags byte, then for each key in
// sorted order uvarint(len key) key uvarint(len value) value. The output is
// deterministic, so equal maps have equal encodings.
func encodeMeta(meta map[string]string, flags metaFlags) ([]byte, error) {
	keys := make([]string, 0, len(meta))
	size := 2
	for k, v := range meta {
		keys = append(keys, k)
		size += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	sort.Strings(keys)
	buf := make([]byte, 0, min(size, 2*MaxMetaSize))
	buf = append(buf, metaVersion, byte(flags))
	for _, k := range keys {
		v := meta[k]
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	if len(buf) > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d keys encode to %d bytes, limit %d", ErrMetaTooLarge, len(meta), len(buf), MaxMetaSize)
	}
	return buf, nil
}

// decodeMeta reverses encodeMeta. Empty input (a node without metadata)
// decodes to an empty map. The returned map is never nil.
func decodeMeta(b []byte) (map[string]string, metaFlags, error) {
	meta := map[string]string{}
	if len(b) == 0 {
		return meta, 0, nil
	}
	if len(b) < 2 || b[0] != metaVersion {
		return meta, 0, fmt.Errorf("membership: unknown metadata format (%d bytes)", len(b))
	}
	flags := metaFlags(b[1])
	rest := b[2:]
	next := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return "", false
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, true
	}
	for len(rest) > 0 {
		k, ok := next()
		if !ok {
			return map[string]string{}, 0, errors.New("membership: truncated metadata key")
		}
		v, ok := next()
		if !ok {
			return map[string]string{}, 0, errors.New("membership: truncated metadata value")
		}
		meta[k] = v
	}
	return meta, flags, nil
}

// metaPayload is the part of an encoding that carries the user's metadata,
// so that a change of flags alone is not reported as an Updated event.
func metaPayload(b []byte) []byte {
	if len(b) < 2 {
		return nil
	}
	return b[2:]
}

// metaStore is the memberlist.Delegate that hands out this node's encoded
// metadata. Invariant: encoded always fits MaxMetaSize (it is only replaced
// by a successful encodeMeta), so memberlist never panics on it.
type metaStore struct {
	mu       sync.Mutex
	userMeta map[string]string
	flags    metaFlags
	encoded  []byte
}

var _ memberlist.Delegate = (*metaStore)(nil)

// newMetaStore validates and stores the initial metadata.
func newMetaStore(meta map[string]string) (*metaStore, error) {
	enc, err := encodeMeta(meta, 0)
	if err != nil {
		return nil, err
	}
	return &metaStore{userMeta: cloneMeta(meta), encoded: enc}, nil
}

// setUser replaces the user's metadata, keeping the flags.
func (s *metaStore) setUser(meta map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	enc, err := encodeMeta(meta, s.flags)
	if err != nil {
		return err
	}
	s.userMeta, s.encoded = cloneMeta(meta), enc
	return nil
}

// setFlags replaces the flags, keeping the user's metadata. Flags occupy a
// fixed byte of the encoding, so the size (already checked) does not change.
func (s *metaStore) setFlags(f metaFlags) {
	s.mu.Lock()
	defer s.mu.Unlock()
	enc := append([]byte(nil), s.encoded...)
	enc[1] = byte(f)
	s.flags, s.encoded = f, enc
}

// user returns a copy of the user's metadata.
func (s *metaStore) user() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneMeta(s.userMeta)
}

// NodeMeta implements memberlist.Delegate.
func (s *metaStore) NodeMeta(limit int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.encoded...)
}

// NotifyMsg implements memberlist.Delegate; Concord sends no user messages
// over gossip.
func (s *metaStore) NotifyMsg([]byte) {}

// GetBroadcasts implements memberlist.Delegate; there are no user broadcasts.
func (s *metaStore) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState implements memberlist.Delegate; there is no user state to push.
func (s *metaStore) LocalState(join bool) []byte { return nil }

// MergeRemoteState implements memberlist.Delegate; there is no user state.
func (s *metaStore) MergeRemoteState(buf []byte, join bool) {}

// cloneMeta copies a metadata map so callers cannot alias internal state.
func cloneMeta(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
