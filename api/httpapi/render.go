package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/concord-kv/concord"
)

// kvDoc is a key with its value and metadata as the API returns it. The
// key is "key" or "key_base64", the value "value" or "value_base64" (see
// the package doc); a write's result has no value.
type kvDoc struct {
	Key            string          `json:"key,omitempty"`
	KeyBase64      string          `json:"key_base64,omitempty"`
	Found          *bool           `json:"found,omitempty"`
	Value          json.RawMessage `json:"value,omitempty"`
	ValueBase64    *string         `json:"value_base64,omitempty"`
	Encoding       string          `json:"encoding,omitempty"`
	Version        uint64          `json:"version,omitempty"`
	CreateRevision uint64          `json:"create_revision,omitempty"`
	ModRevision    uint64          `json:"mod_revision,omitempty"`
	ExpiresAt      *time.Time      `json:"expires_at,omitempty"`
	// TTL is the remaining seconds (rounded up) or null for no expiry;
	// present only when asked for.
	TTL json.RawMessage `json:"ttl,omitempty"`
}

// render options: b64 forces base64 for key and value; withTTL adds ttl.
type render struct {
	b64     bool
	withTTL bool
	now     time.Time
}

// keyDoc sets the key fields of d.
func (o render) keyDoc(d *kvDoc, key []byte) {
	if !o.b64 && utf8.Valid(key) {
		d.Key = string(key)
		return
	}
	d.KeyBase64 = base64.StdEncoding.EncodeToString(key)
}

// doc renders kv; a nil kv.Value (a write's result) leaves the value out.
func (o render) doc(kv *concord.KeyValue) kvDoc {
	var d kvDoc
	o.keyDoc(&d, kv.Key)
	if kv.Value != nil {
		if !o.b64 && utf8.Valid(kv.Value) && json.Valid(kv.Value) {
			d.Value, d.Encoding = json.RawMessage(kv.Value), "json"
		} else {
			s := base64.StdEncoding.EncodeToString(kv.Value)
			d.ValueBase64, d.Encoding = &s, "base64"
		}
	}
	d.Version, d.CreateRevision, d.ModRevision = kv.Version, kv.CreateRevision, kv.ModRevision
	if !kv.ExpiresAt.IsZero() {
		at := kv.ExpiresAt.UTC()
		d.ExpiresAt = &at
	}
	if o.withTTL {
		d.TTL = ttlJSON(kv.ExpiresAt, o.now)
	}
	return d
}

// ttlJSON is the remaining whole seconds until at (rounded up, never
// negative), or null when at is zero (no expiry).
func ttlJSON(at, now time.Time) json.RawMessage {
	if at.IsZero() {
		return json.RawMessage("null")
	}
	return secondsJSON(at.Sub(now))
}

// secondsJSON is d in whole seconds, rounded up and never negative.
func secondsJSON(d time.Duration) json.RawMessage {
	sec := max(int64((d+time.Second-1)/time.Second), 0)
	return json.RawMessage(strconv.FormatInt(sec, 10))
}
