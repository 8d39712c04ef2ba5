package concord

import (
	"fmt"
	"time"

	"github.com/concord-kv/concord/rangegroup"
	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// Consistency is how fresh a read must be. The zero value is Leader.
type Consistency = rangegroup.Consistency

// The read consistency levels (DESIGN.md "Reads and writes"). Writes are
// always linearizable: they are acknowledged only once committed by a
// quorum of the range's replicas and applied.
const (
	// Leader (the default) reads the range leader's local state while its
	// quorum lease holds, and confirms leadership with a ReadIndex round
	// when it does not. Linearizable unless clocks misbehave (run faster
	// than the lease allows) or a process pauses longer than the lease.
	Leader = rangegroup.Leader
	// Strong confirms the leader's commit index with a quorum round
	// (ReadIndex) before reading, and serves from a replica that has
	// applied it. Linearizable under any clock behaviour; one round trip
	// more than Leader when the lease holds.
	Strong = rangegroup.Strong
	// Eventual reads any replica's local state, spreading reads across
	// replicas. It may be stale (miss recent writes, show a key that was
	// since deleted), but never returns a value that was never written.
	Eventual = rangegroup.Eventual
)

// Option tunes one call of a Node's key-value methods. Each method documents
// the options it takes; passing another one is rejected with
// ErrInvalidArgument and nothing is sent, so a mistaken option never goes
// silently unused.
type Option func(*options)

// options is the accumulated effect of a call's Options. Each option kind
// records that it was given, so a method can reject the kinds it does not
// take, and conditions record repeats, which are rejected as ambiguous.
type options struct {
	given       optionKind
	ttl         time.Duration
	keepTTL     bool
	keysOnly    bool
	prefix      []byte
	startRev    uint64
	consistency Consistency
	cond        condition
	repeated    string
}

// condition is the options' conditions, combined with AND; the pointer
// and slice fields are nil when not given.
type condition struct {
	value        []byte
	version      *uint64
	modRevision  *uint64
	mustExist    bool
	mustNotExist bool
}

// optionKind is a set of option kinds.
type optionKind uint8

const (
	optTTL optionKind = 1 << iota
	optKeepTTL
	optConsistency
	optCondition
	optKeysOnly
	optPrefix
	optStartRevision
)

// Which option kinds each kind of call takes.
const (
	writeOptions = optTTL | optKeepTTL
	readOptions  = optConsistency
	scanOptions  = optConsistency | optKeysOnly | optPrefix
	watchOptions = optPrefix | optStartRevision
	noOptions    = optionKind(0)
)

var optionNames = []struct {
	kind optionKind
	name string
}{
	{optTTL, "WithTTL"},
	{optKeepTTL, "WithKeepTTL"},
	{optConsistency, "WithConsistency"},
	{optCondition, "a condition (IfValue, IfVersion, ...)"},
	{optKeysOnly, "WithKeysOnly"},
	{optPrefix, "WithPrefix"},
	{optStartRevision, "WithStartRevision"},
}

// MaxTTL is the longest time to live a key may be given.
const MaxTTL = kv.MaxTTL

// WithTTL makes a put expire d after it is applied (measured by the range
// leader's clock). d = 0 means the key never expires. Without WithTTL or
// WithKeepTTL a put clears any expiry the key had. d must be 0..MaxTTL.
// Taken by Put, PutIf, PutMany and OpPut.
func WithTTL(d time.Duration) Option {
	return func(o *options) {
		o.given |= optTTL
		o.ttl = d
	}
}

// WithKeepTTL makes a put keep the key's current expiry (none if the key
// is new) instead of clearing it. It cannot be combined with WithTTL.
// Taken by Put, PutIf, PutMany and OpPut.
func WithKeepTTL() Option {
	return func(o *options) {
		o.given |= optKeepTTL
		o.keepTTL = true
	}
}

// WithConsistency sets the consistency level of a read (default Leader).
// Taken by Get, GetMany, TTL and Scan.
func WithConsistency(c Consistency) Option {
	return func(o *options) {
		o.given |= optConsistency
		o.consistency = c
	}
}

// WithKeysOnly leaves the values out of a scan's results: their Value is
// nil, the metadata is there. Taken by Scan.
func WithKeysOnly() Option {
	return func(o *options) {
		o.given |= optKeysOnly
		o.keysOnly = true
	}
}

// WithPrefix limits a scan to the keys that start with p. Keys are placed
// by the hash of their tag, so a prefix's keys are spread over every range
// unless the prefix holds a whole hash tag ("{user:1}:"), and the scan
// reads ranges until it has a full page or has passed the whole circle.
// Taken by Scan and Watch (see Watch for what a watch's prefix must hold).
func WithPrefix(p []byte) Option {
	return func(o *options) {
		o.given |= optPrefix
		o.prefix = append([]byte{}, p...)
	}
}

// WithStartRevision makes a watch first replay the changes from revision r
// on (a KeyValue's ModRevision + 1 resumes after a change already seen).
// r must be positive. Taken by Watch.
func WithStartRevision(r uint64) Option {
	return func(o *options) {
		o.given |= optStartRevision
		o.startRev = r
	}
}

// IfValue is a condition of PutIf and DeleteIf: the key must exist and
// hold exactly v (compared byte for byte; nil and empty are the same).
func IfValue(v []byte) Option {
	return func(o *options) {
		if o.cond.value != nil {
			o.repeated = "IfValue"
		}
		o.given |= optCondition
		o.cond.value = append([]byte{}, v...)
	}
}

// IfVersion is a condition of PutIf and DeleteIf: the key must exist and
// have this version (1 after its creation, +1 per write). n must be
// positive; use IfNotExists to require a missing key.
func IfVersion(n uint64) Option {
	return func(o *options) {
		if o.cond.version != nil {
			o.repeated = "IfVersion"
		}
		o.given |= optCondition
		o.cond.version = &n
	}
}

// IfModRevision is a condition of PutIf and DeleteIf: the key must exist
// and have been last written by the command of revision r (its
// KeyValue.ModRevision). r must be positive.
func IfModRevision(r uint64) Option {
	return func(o *options) {
		if o.cond.modRevision != nil {
			o.repeated = "IfModRevision"
		}
		o.given |= optCondition
		o.cond.modRevision = &r
	}
}

// IfExists is a condition of PutIf and DeleteIf: the key must exist (and
// not have expired).
func IfExists() Option {
	return func(o *options) {
		o.given |= optCondition
		o.cond.mustExist = true
	}
}

// IfNotExists is a condition of PutIf: the key must not exist (or must
// have expired). It contradicts every other condition.
func IfNotExists() Option {
	return func(o *options) {
		o.given |= optCondition
		o.cond.mustNotExist = true
	}
}

// parseOptions applies opts and checks them against the kinds the call
// takes. The error wraps ErrInvalidArgument.
func parseOptions(allowed optionKind, opts []Option) (options, error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("%w: nil option", ErrInvalidArgument)
		}
		opt(&o)
	}
	for _, n := range optionNames {
		if o.given&n.kind != 0 && allowed&n.kind == 0 {
			return o, fmt.Errorf("%w: %s is not an option of this call", ErrInvalidArgument, n.name)
		}
	}
	if o.repeated != "" {
		return o, fmt.Errorf("%w: %s given twice", ErrInvalidArgument, o.repeated)
	}
	if o.given&optTTL != 0 && o.keepTTL {
		return o, fmt.Errorf("%w: WithTTL and WithKeepTTL together", ErrInvalidArgument)
	}
	if err := checkTTL(o.ttl); err != nil {
		return o, err
	}
	if o.given&optStartRevision != 0 && o.startRev == 0 {
		return o, fmt.Errorf("%w: start revision 0 (revisions start at 1)", ErrInvalidArgument)
	}
	switch o.consistency {
	case Strong, Leader, Eventual:
	default:
		return o, fmt.Errorf("%w: unknown consistency level %v", ErrInvalidArgument, o.consistency)
	}
	return o, nil
}

// checkTTL checks a time to live before it is sent, so that a mistake
// reads in this API's terms (a time.Duration) rather than in nanoseconds.
func checkTTL(d time.Duration) error {
	switch {
	case d < 0:
		return fmt.Errorf("%w: negative TTL %v", ErrInvalidArgument, d)
	case d > MaxTTL:
		return fmt.Errorf("%w: TTL %v exceeds the maximum of %v", ErrInvalidArgument, d, MaxTTL)
	}
	return nil
}

// condition is the wire form of the options' conditions, nil when none
// was given.
func (o *options) condition() *kvpb.Condition {
	if o.given&optCondition == 0 {
		return nil
	}
	return &kvpb.Condition{
		Value:        o.cond.value,
		Version:      o.cond.version,
		ModRevision:  o.cond.modRevision,
		MustExist:    o.cond.mustExist,
		MustNotExist: o.cond.mustNotExist,
	}
}
