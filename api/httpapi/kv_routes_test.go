package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord"
)

// TestPutGetDeleteJSONValues round-trips JSON values of every kind
// through different nodes, and deletes them.
func TestPutGetDeleteJSONValues(t *testing.T) {
	t.Parallel()
	for i, v := range []string{`"Hello, World!"`, `{"a":[1,2,{"b":null}],"c":"\u00e9"}`, `42`, `-1.5e3`, `true`, `null`, `[]`} {
		key := fmt.Sprintf("json-%d", i)
		var put getDoc
		call(t, i%3, http.MethodPut, "/api/v1/kv/"+key, `{"value": `+v+`}`).ok(t, &put)
		if put.Key != key || put.Version != 1 || put.ModRevision == 0 || put.CreateRevision != put.ModRevision || put.Value != nil {
			t.Fatalf("put %s: %+v", v, put)
		}
		var got getDoc
		call(t, (i+1)%3, http.MethodGet, "/api/v1/kv/"+key+"?consistency=strong", "").ok(t, &got)
		if string(got.Value) != compact(t, v) || got.Encoding != "json" || got.ModRevision != put.ModRevision || got.ExpiresAt != nil {
			t.Fatalf("get %s: %+v", v, got)
		}
		var del struct {
			Key     string `json:"key"`
			Deleted bool   `json:"deleted"`
		}
		call(t, (i+2)%3, http.MethodDelete, "/api/v1/kv/"+key, "").ok(t, &del)
		if !del.Deleted || del.Key != key {
			t.Fatalf("delete: %+v", del)
		}
		call(t, 0, http.MethodGet, "/api/v1/kv/"+key, "").fails(t, http.StatusNotFound, concord.CodeNotFound)
		call(t, 0, http.MethodDelete, "/api/v1/kv/"+key, "").fails(t, http.StatusNotFound, concord.CodeNotFound)
	}
}

// compact is the compact form of a JSON text, as the API stores it.
func compact(t *testing.T, v string) string {
	t.Helper()
	b, err := compactJSON([]byte(v))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBinaryValues checks the base64 forms: bytes written as
// value_base64 come back as value_base64 unless they are JSON, and
// encoding=base64 forces the base64 form.
func TestBinaryValues(t *testing.T) {
	t.Parallel()
	raw := []byte{0, 1, 2, 0xff, 'x'}
	b64 := base64.StdEncoding.EncodeToString(raw)
	call(t, 0, http.MethodPut, "/api/v1/kv/binary", `{"value_base64":"`+b64+`"}`).ok(t, nil)
	if kv := stored(t, "binary"); string(kv.Value) != string(raw) {
		t.Fatalf("stored %q, want %q", kv.Value, raw)
	}
	var got getDoc
	call(t, 1, http.MethodGet, "/api/v1/kv/binary", "").ok(t, &got)
	if got.ValueBase64 == nil || *got.ValueBase64 != b64 || got.Value != nil || got.Encoding != "base64" {
		t.Fatalf("binary read: %+v", got)
	}
	// Bytes that are JSON text read back as JSON unless base64 is asked.
	call(t, 0, http.MethodPut, "/api/v1/kv/binary-json", `{"value_base64":"`+base64.StdEncoding.EncodeToString([]byte(`{"x":1}`))+`"}`).ok(t, nil)
	got = getDoc{}
	call(t, 2, http.MethodGet, "/api/v1/kv/binary-json", "").ok(t, &got)
	if string(got.Value) != `{"x":1}` || got.Encoding != "json" {
		t.Fatalf("JSON bytes read: %+v", got)
	}
	var forced getDoc
	call(t, 2, http.MethodGet, "/api/v1/kv/binary-json?encoding=base64", "").ok(t, &forced)
	if forced.ValueBase64 == nil || *forced.ValueBase64 != base64.StdEncoding.EncodeToString([]byte(`{"x":1}`)) || forced.KeyBase64 != base64.StdEncoding.EncodeToString([]byte("binary-json")) || forced.Key != "" {
		t.Fatalf("forced base64 read: %+v", forced)
	}
	// An empty value is not JSON text: it reads back as empty base64.
	call(t, 0, http.MethodPut, "/api/v1/kv/binary-empty", `{"value_base64":""}`).ok(t, nil)
	got = getDoc{}
	call(t, 0, http.MethodGet, "/api/v1/kv/binary-empty", "").ok(t, &got)
	if got.ValueBase64 == nil || *got.ValueBase64 != "" || got.Encoding != "base64" {
		t.Fatalf("empty value read: %+v", got)
	}
}

// TestKeysAnyBytes checks that keys with '/', NUL, '%', spaces, dots and
// non-UTF-8 bytes round-trip through percent-encoding.
func TestKeysAnyBytes(t *testing.T) {
	t.Parallel()
	for i, key := range []string{"a/b/c", "nul\x00byte", "100%", "sp ace?&=#", ".", "..", "bulk", "é☃", "\xff\xfe", "/leading"} {
		path := "/api/v1/kv/" + escapeKey(key)
		call(t, i%3, http.MethodPut, path, fmt.Sprintf(`{"value": %d}`, i)).ok(t, nil)
		if kv := stored(t, key); kv == nil || string(kv.Value) != fmt.Sprint(i) {
			t.Fatalf("key %q: stored %+v", key, kv)
		}
		var got getDoc
		call(t, (i+1)%3, http.MethodGet, path, "").ok(t, &got)
		gotKey := got.Key
		if got.KeyBase64 != "" {
			b, err := base64.StdEncoding.DecodeString(got.KeyBase64)
			if err != nil {
				t.Fatal(err)
			}
			gotKey = string(b)
		}
		if gotKey != key || string(got.Value) != fmt.Sprint(i) {
			t.Fatalf("key %q: read %+v", key, got)
		}
	}
}

// escapeKey percent-encodes every byte of key but letters, digits and
// "-_~", so that "." and ".." are not read as dot segments.
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TestTTL covers ttl on put, with_ttl, the ttl route, touch and keep_ttl.
func TestTTL(t *testing.T) {
	t.Parallel()
	var put getDoc
	call(t, 0, http.MethodPut, "/api/v1/kv/ttl-a", `{"value":"v","ttl":3600}`).ok(t, &put)
	if put.ExpiresAt == nil || time.Until(*put.ExpiresAt) > time.Hour+time.Minute || time.Until(*put.ExpiresAt) < 50*time.Minute {
		t.Fatalf("put with ttl: expires_at %v", put.ExpiresAt)
	}
	var got getDoc
	call(t, 1, http.MethodGet, "/api/v1/kv/ttl-a?with_ttl=true", "").ok(t, &got)
	if got.TTL == nil || *got.TTL <= 3000 || *got.TTL > 3600 {
		t.Fatalf("with_ttl: %+v", got)
	}
	var ttl struct {
		Key string `json:"key"`
		TTL *int64 `json:"ttl"`
	}
	call(t, 2, http.MethodGet, "/api/v1/kv/ttl-a/ttl?consistency=strong", "").ok(t, &ttl)
	if ttl.Key != "ttl-a" || ttl.TTL == nil || *ttl.TTL <= 3000 || *ttl.TTL > 3600 {
		t.Fatalf("ttl route: %+v", ttl)
	}
	var touched getDoc
	call(t, 0, http.MethodPost, "/api/v1/kv/ttl-a/touch", `{"ttl":0}`).ok(t, &touched)
	if touched.ExpiresAt != nil || touched.Version != put.Version+1 {
		t.Fatalf("touch to no expiry: %+v", touched)
	}
	ttl.TTL = nil
	call(t, 1, http.MethodGet, "/api/v1/kv/ttl-a/ttl", "").ok(t, &ttl)
	if ttl.TTL != nil {
		t.Fatalf("ttl after touch 0: %v, want null", *ttl.TTL)
	}
	got = getDoc{}
	call(t, 1, http.MethodGet, "/api/v1/kv/ttl-a?with_ttl=true", "").ok(t, &got)
	if got.TTL != nil || string(got.Value) != `"v"` {
		t.Fatalf("with_ttl after touch 0: %+v", got)
	}
	call(t, 0, http.MethodPost, "/api/v1/kv/ttl-a/touch", `{"ttl":120}`).ok(t, &touched)
	// keep_ttl keeps the expiry; a plain put clears it.
	call(t, 0, http.MethodPut, "/api/v1/kv/ttl-a", `{"value":"w","keep_ttl":true}`).ok(t, &put)
	if put.ExpiresAt == nil || !put.ExpiresAt.Equal(*touched.ExpiresAt) {
		t.Fatalf("keep_ttl: %v, want %v", put.ExpiresAt, touched.ExpiresAt)
	}
	var plain getDoc
	call(t, 0, http.MethodPut, "/api/v1/kv/ttl-a", `{"value":"w"}`).ok(t, &plain)
	if plain.ExpiresAt != nil || plain.Version == 0 {
		t.Fatalf("plain put: %+v, want no expiry", plain)
	}
	call(t, 0, http.MethodPost, "/api/v1/kv/ttl-missing/touch", `{"ttl":5}`).fails(t, http.StatusNotFound, concord.CodeNotFound)
	call(t, 0, http.MethodGet, "/api/v1/kv/ttl-missing/ttl", "").fails(t, http.StatusNotFound, concord.CodeNotFound)
	unchanged(t, "ttl-missing", nil)
}

// TestConditionalWrites covers every condition, in the body and in the
// query, and checks that a failed condition changes nothing.
func TestConditionalWrites(t *testing.T) {
	t.Parallel()
	var first getDoc
	call(t, 0, http.MethodPut, "/api/v1/kv/cas", `{"value":"one","must_not_exist":true}`).ok(t, &first)
	before := stored(t, "cas")
	call(t, 1, http.MethodPut, "/api/v1/kv/cas", `{"value":"two","must_not_exist":true}`).fails(t, http.StatusConflict, concord.CodeConditionFailed)
	unchanged(t, "cas", before)
	call(t, 1, http.MethodPut, "/api/v1/kv/cas?must_not_exist=true", `{"value":"two"}`).fails(t, http.StatusConflict, concord.CodeConditionFailed)
	call(t, 1, http.MethodPut, "/api/v1/kv/cas", `{"value":"two","expected_version":2}`).fails(t, http.StatusConflict, concord.CodeConditionFailed)
	call(t, 1, http.MethodPut, "/api/v1/kv/cas?expected_value="+url.QueryEscape(`"nope"`), `{"value":"two"}`).fails(t, http.StatusConflict, concord.CodeConditionFailed)
	call(t, 1, http.MethodPut, "/api/v1/kv/cas-missing", `{"value":"two","must_exist":true}`).fails(t, http.StatusConflict, concord.CodeConditionFailed)
	unchanged(t, "cas", before)
	unchanged(t, "cas-missing", nil)

	var second getDoc
	call(t, 2, http.MethodPut, "/api/v1/kv/cas", `{"value":"two","expected_version":1,"expected_value":"one"}`).ok(t, &second)
	if second.Version != 2 {
		t.Fatalf("conditional put: %+v", second)
	}
	call(t, 0, http.MethodPut, fmt.Sprintf("/api/v1/kv/cas?expected_mod_revision=%d&must_exist=true", second.ModRevision), `{"value":{"n":3}}`).ok(t, nil)
	call(t, 0, http.MethodPut, "/api/v1/kv/cas", `{"value":"x","expected_value_base64":"`+base64.StdEncoding.EncodeToString([]byte(`{"n":3}`))+`"}`).ok(t, nil)

	before = stored(t, "cas")
	call(t, 1, http.MethodDelete, "/api/v1/kv/cas?expected_value="+url.QueryEscape(`"y"`), "").fails(t, http.StatusConflict, concord.CodeConditionFailed)
	call(t, 1, http.MethodDelete, "/api/v1/kv/cas", `{"expected_version":1}`).fails(t, http.StatusConflict, concord.CodeConditionFailed)
	unchanged(t, "cas", before)
	call(t, 1, http.MethodDelete, "/api/v1/kv/cas", `{"expected_value":"x"}`).ok(t, nil)
	unchanged(t, "cas", nil)
}
