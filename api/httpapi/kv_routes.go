package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/concord-kv/concord"
)

// putBody is the body of PUT /api/v1/kv/{key}.
type putBody struct {
	Value       json.RawMessage `json:"value"`
	ValueBase64 *string         `json:"value_base64"`
	// TTL is in seconds; 0 or absent means no expiry (unless keep_ttl).
	TTL     *int64 `json:"ttl"`
	KeepTTL bool   `json:"keep_ttl"`
	conditionFields
}

// put writes a key, conditionally when any condition is given.
func (s *server) put(r *http.Request) (any, error) {
	key := pathKey(r)
	cond, err := conditionQueryFields(query(r))
	if err != nil {
		return nil, err
	}
	var body putBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	value, err := valueOf("body", body.Value, body.ValueBase64)
	if err != nil {
		return nil, err
	}
	if err := body.merge(cond); err != nil {
		return nil, err
	}
	opts, err := body.options()
	if err != nil {
		return nil, err
	}
	conditional := len(opts) > 0
	switch {
	case body.TTL != nil && body.KeepTTL:
		return nil, invalidArg("give ttl or keep_ttl, not both")
	case body.TTL != nil:
		ttl, err := ttlSeconds("ttl", *body.TTL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, concord.WithTTL(ttl))
	case body.KeepTTL:
		opts = append(opts, concord.WithKeepTTL())
	}
	var kv *concord.KeyValue
	if conditional {
		kv, err = s.kv.PutIf(r.Context(), key, value, opts...)
	} else {
		kv, err = s.kv.Put(r.Context(), key, value, opts...)
	}
	if err != nil {
		return nil, err
	}
	return render{}.doc(withKey(kv, key)), nil
}

// get reads a key.
func (s *server) get(r *http.Request) (any, error) {
	q := query(r)
	level, err := parseConsistency(q)
	if err != nil {
		return nil, err
	}
	b64, err := wantBase64(q)
	if err != nil {
		return nil, err
	}
	withTTL, err := parseBool(q, "with_ttl")
	if err != nil {
		return nil, err
	}
	kv, err := s.kv.Get(r.Context(), pathKey(r), concord.WithConsistency(level))
	if err != nil {
		return nil, err
	}
	return render{b64: b64, withTTL: withTTL, now: time.Now()}.doc(kv), nil
}

// deleteBody is the optional body of DELETE /api/v1/kv/{key}.
type deleteBody struct {
	conditionFields
}

// deletedDoc is the result of a delete.
type deletedDoc struct {
	Key       string `json:"key,omitempty"`
	KeyBase64 string `json:"key_base64,omitempty"`
	Deleted   bool   `json:"deleted"`
}

// delete removes a key, conditionally when any condition is given. A
// body is optional: DELETE without one is the plain delete.
func (s *server) delete(r *http.Request) (any, error) {
	key := pathKey(r)
	cond, err := conditionQueryFields(query(r))
	if err != nil {
		return nil, err
	}
	var body deleteBody
	if err := decodeOptionalBody(r, &body); err != nil {
		return nil, err
	}
	if err := body.merge(cond); err != nil {
		return nil, err
	}
	opts, err := body.options()
	if err != nil {
		return nil, err
	}
	if body.MustNotExist {
		return nil, invalidArg("must_not_exist leaves nothing to delete")
	}
	if len(opts) > 0 {
		err = s.kv.DeleteIf(r.Context(), key, opts...)
	} else {
		err = s.kv.Delete(r.Context(), key)
	}
	if err != nil {
		return nil, err
	}
	var d kvDoc
	render{}.keyDoc(&d, key)
	return deletedDoc{Key: d.Key, KeyBase64: d.KeyBase64, Deleted: true}, nil
}

// touchBody is the body of POST /api/v1/kv/{key}/touch.
type touchBody struct {
	// TTL is required: seconds from now, 0 to remove the expiry.
	TTL *int64 `json:"ttl"`
}

// touch sets a key's expiry.
func (s *server) touch(r *http.Request) (any, error) {
	var body touchBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.TTL == nil {
		return nil, invalidArg("ttl is required (seconds from now; 0 removes the expiry)")
	}
	ttl, err := ttlSeconds("ttl", *body.TTL)
	if err != nil {
		return nil, err
	}
	key := pathKey(r)
	kv, err := s.kv.Touch(r.Context(), key, ttl)
	if err != nil {
		return nil, err
	}
	return render{}.doc(withKey(kv, key)), nil
}

// ttlDoc is the result of GET /api/v1/kv/{key}/ttl.
type ttlDoc struct {
	Key       string `json:"key,omitempty"`
	KeyBase64 string `json:"key_base64,omitempty"`
	// TTL is the remaining seconds, rounded up; null for no expiry.
	TTL json.RawMessage `json:"ttl"`
}

// ttl reads how long a key has left to live.
func (s *server) ttl(r *http.Request) (any, error) {
	level, err := parseConsistency(query(r))
	if err != nil {
		return nil, err
	}
	key := pathKey(r)
	left, err := s.kv.TTL(r.Context(), key, concord.WithConsistency(level))
	if err != nil {
		return nil, err
	}
	var d kvDoc
	render{}.keyDoc(&d, key)
	out := ttlDoc{Key: d.Key, KeyBase64: d.KeyBase64, TTL: json.RawMessage("null")}
	if left > 0 {
		out.TTL = secondsJSON(left)
	}
	return out, nil
}

// withKey returns kv with its key set (a write's result may leave it to
// the caller), never modifying kv itself.
func withKey(kv *concord.KeyValue, key []byte) *concord.KeyValue {
	if kv == nil {
		return &concord.KeyValue{Key: key}
	}
	if kv.Key != nil {
		return kv
	}
	c := *kv
	c.Key = key
	return &c
}
