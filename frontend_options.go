package concord

import (
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/concord-kv/concord/rangegroup/kv"
)

// Front ends that carry calls to a node over a wire (the gRPC client of
// package api/client) must accept and reject exactly what a Node does and
// route keys exactly as nodes do. This file exports the little they need
// to read: a call's options and a key's ring position. The Node's own
// checks still run on the serving node, so nothing here is a second
// source of validation rules.

// CallOptions is the content of one call's Options, as ResolveOptions
// reads them.
type CallOptions struct {
	// TTL is WithTTL's duration; HasTTL reports that WithTTL was given
	// (WithTTL(0) and no WithTTL both clear an expiry, but only the first
	// contradicts WithKeepTTL).
	TTL    time.Duration
	HasTTL bool
	// KeepTTL reports WithKeepTTL.
	KeepTTL bool
	// Consistency is WithConsistency's level (Leader when not given).
	Consistency Consistency
	// KeysOnly reports WithKeysOnly.
	KeysOnly bool
	// Prefix is WithPrefix's prefix, nil when not given.
	Prefix []byte
	// StartRevision is WithStartRevision's revision, 0 when not given.
	StartRevision uint64
	// Conditions are the conditions given (IfValue, ...), nil when none.
	Conditions *Conditions
}

// Conditions are the conditions of a PutIf or DeleteIf, combined with AND.
type Conditions struct {
	// Value is IfValue's value, nil when not given (IfValue(nil) gives an
	// empty, non-nil value).
	Value []byte
	// Version and ModRevision are IfVersion's and IfModRevision's
	// operands, nil when not given.
	Version, ModRevision *uint64
	// MustExist and MustNotExist report IfExists and IfNotExists.
	MustExist, MustNotExist bool
}

// methodOptions is which option kinds each key-value method (named as on
// Node, plus OpPut) takes.
var methodOptions = map[string]optionKind{
	"Put":        writeOptions,
	"PutIf":      writeOptions | optCondition,
	"Get":        readOptions,
	"TTL":        readOptions,
	"Delete":     noOptions,
	"DeleteIf":   optCondition,
	"Touch":      noOptions,
	"PutMany":    writeOptions,
	"GetMany":    readOptions,
	"DeleteMany": noOptions,
	"TouchMany":  noOptions,
	"Txn":        noOptions,
	"Scan":       scanOptions,
	"Watch":      watchOptions,
	"OpPut":      writeOptions,
}

// ResolveOptions reads the options of a call of method (a key-value method
// of Node, such as "Put" or "Scan", or "OpPut") and checks them as that
// method does: an option the method does not take, a repeated condition,
// WithTTL with WithKeepTTL, a TTL out of 0..MaxTTL or an unknown
// consistency level is an error wrapping ErrInvalidArgument. Checks that
// need the call's other arguments (PutIf without a condition, ...) are
// left to the method itself.
func ResolveOptions(method string, opts ...Option) (CallOptions, error) {
	allowed, ok := methodOptions[method]
	if !ok {
		return CallOptions{}, fmt.Errorf("%w: unknown method %q", ErrInvalidArgument, method)
	}
	o, err := parseOptions(allowed, opts)
	if err != nil {
		return CallOptions{}, err
	}
	out := CallOptions{
		TTL:           o.ttl,
		HasTTL:        o.given&optTTL != 0,
		KeepTTL:       o.keepTTL,
		Consistency:   o.consistency,
		KeysOnly:      o.keysOnly,
		Prefix:        o.prefix,
		StartRevision: o.startRev,
	}
	if o.given&optCondition != 0 {
		out.Conditions = &Conditions{
			Value:        o.cond.value,
			Version:      o.cond.version,
			ModRevision:  o.cond.modRevision,
			MustExist:    o.cond.mustExist,
			MustNotExist: o.cond.mustNotExist,
		}
	}
	return out, nil
}

// Position is the ring position of key in a cluster whose nodes use
// hashFunc (nil: the default, xxhash) and hashBits (0: the default, 64):
// the hash of the key's hash tag, masked to hashBits bits. It is where a
// node places the key, so a client that knows the ranges' spans finds the
// key's range with it.
func Position(key []byte, hashFunc func([]byte) uint64, hashBits int) uint64 {
	if hashFunc == nil {
		hashFunc = xxhash.Sum64
	}
	mask := ^uint64(0)
	if hashBits > 0 && hashBits < 64 {
		mask = 1<<hashBits - 1
	}
	return hashFunc(kv.HashTag(key)) & mask
}
