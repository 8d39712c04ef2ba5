package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/rangegroup/kv"
)

// answer is a decoded response: the status and the envelope.
type answer struct {
	status int
	raw    []byte
	env    struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  *errorDoc       `json:"error"`
	}
}

// call sends one request to server i (path already escaped) and decodes
// the envelope, failing the test if the answer is not one.
func call(t *testing.T, i int, method, path, body string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, servers[i].URL+path, rd)
	if err != nil {
		t.Fatalf("request %s %s: %v", method, path, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var a answer
	a.status = resp.StatusCode
	if a.raw, err = io.ReadAll(resp.Body); err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q, body %s", method, path, ct, a.raw)
	}
	if err := json.Unmarshal(a.raw, &a.env); err != nil {
		t.Fatalf("%s %s: not a JSON envelope: %v: %s", method, path, err, a.raw)
	}
	if (a.env.Status == "ok") != (a.status == http.StatusOK) || (a.env.Status == "error") != (a.env.Error != nil) {
		t.Fatalf("%s %s: status %d with envelope %s", method, path, a.status, a.raw)
	}
	return a
}

// ok checks a successful answer and decodes its data into v.
func (a answer) ok(t *testing.T, v any) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", a.status, a.raw)
	}
	if v != nil {
		if err := json.Unmarshal(a.env.Data, v); err != nil {
			t.Fatalf("data %s: %v", a.env.Data, err)
		}
	}
}

// fails checks a failed answer's status and code.
func (a answer) fails(t *testing.T, status int, code concord.Code) {
	t.Helper()
	if a.status != status || a.env.Error == nil || a.env.Error.Code != code || a.env.Error.Message == "" {
		t.Fatalf("got %d %s, want %d with code %s", a.status, a.raw, status, code)
	}
}

// getDoc is the data of a read as tests decode it.
type getDoc struct {
	Key            string          `json:"key"`
	KeyBase64      string          `json:"key_base64"`
	Found          *bool           `json:"found"`
	Value          json.RawMessage `json:"value"`
	ValueBase64    *string         `json:"value_base64"`
	Encoding       string          `json:"encoding"`
	Version        uint64          `json:"version"`
	CreateRevision uint64          `json:"create_revision"`
	ModRevision    uint64          `json:"mod_revision"`
	ExpiresAt      *time.Time      `json:"expires_at"`
	TTL            *int64          `json:"ttl"`
}

// stored reads key straight from node 0 (strongly), for "nothing
// changed" checks; nil when the key does not exist.
func stored(t *testing.T, key string) *concord.KeyValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := nodes[0].Get(ctx, []byte(key), concord.WithConsistency(concord.Strong))
	if concord.CodeOf(err) == concord.CodeNotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return kv
}

// mustPut writes key through node 0.
func mustPut(t *testing.T, key, value string, opts ...concord.Option) *concord.KeyValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := nodes[0].Put(ctx, []byte(key), []byte(value), opts...)
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return kv
}

// unchanged checks that key still holds what before recorded (nil: the
// key must not exist).
func unchanged(t *testing.T, key string, before *concord.KeyValue) {
	t.Helper()
	now := stored(t, key)
	switch {
	case before == nil && now != nil:
		t.Fatalf("key %q was created: %+v", key, now)
	case before != nil && now == nil:
		t.Fatalf("key %q was deleted", key)
	case before != nil && (now.ModRevision != before.ModRevision || !bytes.Equal(now.Value, before.Value) || !now.ExpiresAt.Equal(before.ExpiresAt)):
		t.Fatalf("key %q changed: %+v, was %+v", key, now, before)
	}
}

// testLimits are the limits the test servers use (the defaults).
func testLimits() kv.Limits { return kv.DefaultLimits() }
