package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/concord-kv/concord"
)

// parseQuery parses the raw query strictly: a malformed escape is bad
// input, not something to skip, and a parameter may appear only once.
func parseQuery(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalidArg("malformed query: %v", err)
	}
	for name, vs := range q {
		if len(vs) > 1 {
			return nil, invalidArg("query parameter %q given %d times", name, len(vs))
		}
	}
	return q, nil
}

// query returns the route's (already checked) query parameters.
func query(r *http.Request) url.Values {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	return q
}

// decodeBody decodes the request's JSON body into dst, rejecting unknown
// fields, wrong types, trailing data and an empty body.
func decodeBody(r *http.Request, dst any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyError(err)
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyError(err)
		}
		return invalidArg("request body has data after its JSON value")
	}
	return nil
}

// decodeOptionalBody is decodeBody for a route whose body may be absent
// (or only white space), which leaves dst as it was.
func decodeOptionalBody(r *http.Request, dst any) error {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	return decodeBody(r, dst)
}

// bodyError words a decoding failure as bad input; a body over the size
// bound keeps its *http.MaxBytesError for tooLarge to find.
func bodyError(err error) error {
	var mb *http.MaxBytesError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mb):
		return err
	case errors.Is(err, io.EOF):
		return invalidArg("request body is empty; a JSON object is required")
	case errors.As(err, &typ):
		return invalidArg("field %q: JSON %s is not a valid %s", typ.Field, typ.Value, typ.Type)
	default:
		return invalidArg("request body is not valid JSON for this route: %v", err)
	}
}

// pathKey returns the percent-decoded {key} path segment. ServeMux
// matches escaped segments and unescapes the wildcard's value, so "%2F"
// and "%00" reach here as the bytes "/" and NUL.
func pathKey(r *http.Request) []byte {
	return []byte(r.PathValue("key"))
}

// parseConsistency reads the consistency query parameter (default leader).
func parseConsistency(q url.Values) (concord.Consistency, error) {
	switch v := q.Get("consistency"); v {
	case "", "leader":
		return concord.Leader, nil
	case "strong":
		return concord.Strong, nil
	case "eventual":
		return concord.Eventual, nil
	default:
		return 0, invalidArg("consistency %q: want strong, leader or eventual", v)
	}
}

// parseBool reads a boolean query parameter (default false).
func parseBool(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidArg("%s %q: want true or false", name, v)
	}
	return b, nil
}

// parsePositive reads a positive integer query parameter; nil when absent.
func parsePositive(q url.Values, name string) (*uint64, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return nil, invalidArg("%s %q: want a positive integer", name, v)
	}
	return &n, nil
}

// wantBase64 reads the encoding query parameter: true for "base64", false
// for "" or "json".
func wantBase64(q url.Values) (bool, error) {
	switch v := q.Get("encoding"); v {
	case "", "json":
		return false, nil
	case "base64":
		return true, nil
	default:
		return false, invalidArg("encoding %q: want json or base64", v)
	}
}

// maxTTLSeconds is concord.MaxTTL in whole seconds.
const maxTTLSeconds = int64(concord.MaxTTL / time.Second)

// ttlSeconds turns a TTL in seconds into a duration: 0 means no expiry.
func ttlSeconds(what string, sec int64) (time.Duration, error) {
	if sec < 0 || sec > maxTTLSeconds {
		return 0, invalidArg("%s %d: want 0 (no expiry) to %d seconds", what, sec, maxTTLSeconds)
	}
	return time.Duration(sec) * time.Second, nil
}

// decodeBase64 decodes a standard (padded) base64 field.
func decodeBase64(what, s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, invalidArg("%s is not standard base64: %v", what, err)
	}
	return b, nil
}

// keyOf reads a key given in a JSON body as "key" or "key_base64":
// exactly one must be given.
func keyOf(what string, key, key64 *string) ([]byte, error) {
	switch {
	case key != nil && key64 != nil:
		return nil, invalidArg("%s: give key or key_base64, not both", what)
	case key != nil:
		return []byte(*key), nil
	case key64 != nil:
		return decodeBase64(what+": key_base64", *key64)
	default:
		return nil, invalidArg("%s: key or key_base64 is required", what)
	}
}

// valueOf reads a value given as "value" (any JSON value, stored as its
// compact JSON text) or "value_base64" (arbitrary bytes): exactly one
// must be given.
func valueOf(what string, value json.RawMessage, value64 *string) ([]byte, error) {
	switch {
	case value != nil && value64 != nil:
		return nil, invalidArg("%s: give value or value_base64, not both", what)
	case value != nil:
		return compactJSON(value)
	case value64 != nil:
		return decodeBase64(what+": value_base64", *value64)
	default:
		return nil, invalidArg("%s: value or value_base64 is required", what)
	}
}

// compactJSON returns the compact form of a JSON text the decoder has
// already checked.
func compactJSON(raw json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("compacting a checked JSON value: %w", err)
	}
	return buf.Bytes(), nil
}
