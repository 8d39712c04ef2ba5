package fuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/api/adminpb"
	"github.com/concord-kv/concord/api/httpapi"
)

// FuzzHTTPAPI drives the HTTP API's handler with arbitrary methods,
// paths, queries and bodies over an in-memory KV. It must never panic,
// and every answer to an /api/v1 route must be a well-formed envelope:
// an error envelope with a known code exactly when the status is not 200.
func FuzzHTTPAPI(f *testing.F) {
	for _, s := range []struct{ method, path, query, body string }{
		{"PUT", "/api/v1/kv/greeting", "", `{"value":"Hello, World!"}`},
		{"PUT", "/api/v1/kv/a%2Fb", "expected_version=1&must_exist=true", `{"value":{"x":[1,null]},"ttl":60}`},
		{"PUT", "/api/v1/kv/bin", "", `{"value_base64":"AAH/","keep_ttl":true,"expected_value":"x"}`},
		{"GET", "/api/v1/kv/greeting", "consistency=eventual&with_ttl=true&encoding=base64", ""},
		{"DELETE", "/api/v1/kv/greeting", "expected_value=%22x%22", `{"expected_mod_revision":3}`},
		{"POST", "/api/v1/kv/greeting/touch", "", `{"ttl":10}`},
		{"GET", "/api/v1/kv/greeting/ttl", "consistency=strong", ""},
		{"POST", "/api/v1/kv/bulk", "", `{"items":[{"key":"a","value":1,"ttl":5},{"key_base64":"AA==","value_base64":""}]}`},
		{"POST", "/api/v1/kv/bulk/get", "encoding=json", `{"keys":["a","b"]}`},
		{"POST", "/api/v1/kv/bulk/delete", "", `{"keys_base64":["YQ=="]}`},
		{"POST", "/api/v1/kv/bulk/touch", "", `{"items":[{"key":"a","ttl":0}]}`},
		{"GET", "/api/v1/kv", "prefix=a&limit=2&cursor=YQ&keys_only=true", ""},
		{"GET", "/api/v1/status", "", ""},
		{"GET", "/api/v1/health", "", ""},
		{"GET", "/api/v1/ready", "", ""},
		{"GET", "/api/v1/openapi.json", "", ""},
		{"GET", "/api/docs", "script=1", ""},
		{"GET", "/metrics", "", ""},
		{"PATCH", "/api/v1/kv/x", "", "{"},
		{"PUT", "/api/v1/kv/err-timeout", "", `{"value":1}`},
		{"GET", "/api/v1/kv/%2E%2E", "consistency=%zz", ""},
	} {
		f.Add(s.method, s.path, s.query, []byte(s.body))
	}
	store := newMapKV()
	h := httpapi.New(store, httpapi.Options{
		Ready:        func(context.Context) error { return errors.New("not yet") },
		Metrics:      http.NotFoundHandler(),
		MaxBodyBytes: 1 << 16,
	})
	known := []concord.Code{concord.CodeNotFound, concord.CodeConditionFailed, concord.CodeInvalidKey, concord.CodeValueTooLarge,
		concord.CodeBatchTooLarge, concord.CodeInvalidArgument, concord.CodeTimeout, concord.CodeUnavailable, concord.CodeClosed, concord.CodeInternal}
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		target := path
		if query != "" {
			target += "?" + query
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !validMethod(method) {
			return // the HTTP server would refuse the request line
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := (&http.Request{
			Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}}, Host: "fuzz",
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		}).WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 && rec.Code < 400 {
			if rec.Header().Get("Location") == "" {
				t.Fatalf("%s %s: redirect %d without a Location", method, target, rec.Code)
			}
			return // the mux redirects unclean paths to their clean form
		}
		if !strings.HasPrefix(u.Path, "/api/v1/") || strings.HasPrefix(u.Path, "/api/v1/openapi.json") {
			return
		}
		var env struct {
			Status string          `json:"status"`
			Data   json.RawMessage `json:"data"`
			Error  *struct {
				Code    concord.Code `json:"code"`
				Message string       `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s %s: status %d, not a JSON envelope: %v: %q", method, target, rec.Code, err, rec.Body.Bytes())
		}
		switch {
		case rec.Code == http.StatusOK && (env.Status != "ok" || env.Error != nil):
			t.Fatalf("%s %s: 200 with %s", method, target, rec.Body.Bytes())
		case rec.Code != http.StatusOK && (env.Status != "error" || env.Error == nil || !slices.Contains(known, env.Error.Code) || env.Error.Message == ""):
			t.Fatalf("%s %s: status %d with %s", method, target, rec.Code, rec.Body.Bytes())
		}
	})
}

// validMethod reports whether m is an HTTP token, as a request line needs.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range []byte(m) {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c)) {
			return false
		}
	}
	return true
}

// mapKV is an in-memory concord.KV for driving the handler: enough
// behaviour to exercise every answer shape, no replication. Keys starting
// with "err-<code>" fail with that code's error, so error paths are
// reached too.
type mapKV struct {
	mu   sync.Mutex
	rev  uint64
	data map[string]*concord.KeyValue
}

func newMapKV() *mapKV { return &mapKV{data: map[string]*concord.KeyValue{}} }

// failure is the injected error for key, if any.
func failure(key []byte) error {
	code, ok := strings.CutPrefix(string(key), "err-")
	if !ok {
		return nil
	}
	return fmt.Errorf("map kv: injected: %w", concord.Code(code).Err())
}

// check is the input validation the real KV does, with its sentinels.
func check(key []byte) error {
	switch {
	case len(key) == 0 || len(key) > 4096:
		return fmt.Errorf("map kv: key of %d bytes: %w", len(key), concord.ErrInvalidKey)
	default:
		return failure(key)
	}
}

func (m *mapKV) put(key, value []byte) (*concord.KeyValue, error) {
	if err := check(key); err != nil {
		return nil, err
	}
	if len(value) > 1<<20 {
		return nil, concord.ErrValueTooLarge
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rev++
	kv := m.data[string(key)]
	if kv == nil {
		kv = &concord.KeyValue{Key: bytes.Clone(key), CreateRevision: m.rev}
		m.data[string(key)] = kv
	}
	kv.Value, kv.ModRevision = bytes.Clone(value), m.rev
	kv.Version++
	meta := *kv
	meta.Value = nil
	return &meta, nil
}

func (m *mapKV) get(key []byte) (*concord.KeyValue, error) {
	if err := check(key); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	kv := m.data[string(key)]
	if kv == nil {
		return nil, concord.ErrNotFound
	}
	c := *kv
	return &c, nil
}

func (m *mapKV) del(key []byte) error {
	if err := check(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data[string(key)] == nil {
		return concord.ErrNotFound
	}
	delete(m.data, string(key))
	return nil
}

func (m *mapKV) touch(key []byte, ttl time.Duration) (*concord.KeyValue, error) {
	if err := check(key); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	kv := m.data[string(key)]
	if kv == nil {
		return nil, concord.ErrNotFound
	}
	kv.ExpiresAt = time.Time{}
	if ttl > 0 {
		kv.ExpiresAt = time.Now().Add(ttl)
	}
	kv.Version++
	meta := *kv
	meta.Value = nil
	return &meta, nil
}

func (m *mapKV) Put(_ context.Context, key, value []byte, _ ...concord.Option) (*concord.KeyValue, error) {
	return m.put(key, value)
}

func (m *mapKV) Get(_ context.Context, key []byte, _ ...concord.Option) (*concord.KeyValue, error) {
	return m.get(key)
}

func (m *mapKV) Delete(_ context.Context, key []byte, _ ...concord.Option) error { return m.del(key) }

func (m *mapKV) Touch(_ context.Context, key []byte, ttl time.Duration, _ ...concord.Option) (*concord.KeyValue, error) {
	return m.touch(key, ttl)
}

func (m *mapKV) TTL(_ context.Context, key []byte, _ ...concord.Option) (time.Duration, error) {
	kv, err := m.get(key)
	if err != nil || kv.ExpiresAt.IsZero() {
		return 0, err
	}
	return time.Until(kv.ExpiresAt), nil
}

// PutIf cannot see the conditions (options are opaque): it fails when the
// key exists with an odd version, so both outcomes occur.
func (m *mapKV) PutIf(_ context.Context, key, value []byte, _ ...concord.Option) (*concord.KeyValue, error) {
	if kv, err := m.get(key); err == nil && kv.Version%2 == 1 {
		return nil, concord.ErrConditionFailed
	}
	return m.put(key, value)
}

func (m *mapKV) DeleteIf(_ context.Context, key []byte, _ ...concord.Option) error {
	if kv, err := m.get(key); err == nil && kv.Version%2 == 1 {
		return concord.ErrConditionFailed
	}
	return m.del(key)
}

func (m *mapKV) PutMany(_ context.Context, items []concord.PutItem, _ ...concord.Option) ([]error, error) {
	errs := make([]error, len(items))
	for i, it := range items {
		_, errs[i] = m.put(it.Key, it.Value)
	}
	return errs, nil
}

func (m *mapKV) GetMany(_ context.Context, keys [][]byte, _ ...concord.Option) ([]*concord.KeyValue, error) {
	out := make([]*concord.KeyValue, len(keys))
	for i, k := range keys {
		kv, err := m.get(k)
		if err != nil && !errors.Is(err, concord.ErrNotFound) {
			return nil, err
		}
		out[i] = kv
	}
	return out, nil
}

func (m *mapKV) DeleteMany(_ context.Context, keys [][]byte, _ ...concord.Option) ([]error, error) {
	errs := make([]error, len(keys))
	for i, k := range keys {
		errs[i] = m.del(k)
	}
	return errs, nil
}

func (m *mapKV) TouchMany(_ context.Context, items []concord.TouchItem, _ ...concord.Option) ([]error, error) {
	errs := make([]error, len(items))
	for i, it := range items {
		_, errs[i] = m.touch(it.Key, it.TTL)
	}
	return errs, nil
}

func (m *mapKV) Txn(context.Context, concord.Txn, ...concord.Option) (*concord.TxnResult, error) {
	return nil, fmt.Errorf("map kv: txn: %w", concord.ErrInvalidArgument)
}

// Scan lists keys in byte order after after; the options are opaque, so
// prefixes are not applied.
func (m *mapKV) Scan(_ context.Context, after []byte, limit int, _ ...concord.Option) ([]*concord.KeyValue, bool, error) {
	if limit < 0 || limit > 500 {
		return nil, false, concord.ErrInvalidArgument
	}
	if limit == 0 {
		limit = 500
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.data))
	for k := range m.data {
		if k > string(after) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	more := len(keys) > limit
	page := make([]*concord.KeyValue, 0, limit)
	for _, k := range keys[:min(limit, len(keys))] {
		c := *m.data[k]
		page = append(page, &c)
	}
	return page, more, nil
}

// Watch is not served over HTTP; the fake never watches.
func (m *mapKV) Watch(context.Context, []byte, ...concord.Option) (<-chan concord.WatchEvent, error) {
	return nil, concord.ErrInvalidArgument
}

func (m *mapKV) Status(context.Context) (*adminpb.StatusResponse, error) {
	return &adminpb.StatusResponse{
		Node:    "fuzz",
		Members: []*adminpb.Member{{Name: "fuzz", Address: "127.0.0.1:1", RingId: 1 << 63, State: "alive"}},
		Ranges:  []*adminpb.Range{{RangeId: 1, Start: 5, End: 5, Leader: "fuzz", Replicas: []*adminpb.Replica{{Node: "fuzz", ReplicaId: 1, Type: "voter"}}}},
	}, nil
}

func (m *mapKV) Close() error { return nil }

var _ concord.KV = (*mapKV)(nil)
