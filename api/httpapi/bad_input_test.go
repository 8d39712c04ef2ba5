package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord"
)

// TestBadInput sends malformed requests to every route that takes input
// and checks each gets a clear 4xx with its code and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	mustPut(t, "bad", `"kept"`)
	before := stored(t, "bad")
	longKey := strings.Repeat("k", 4097)
	bigValue := `{"value_base64":"` + strings.Repeat("A", (1<<20+8)/3*4) + `"}`
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     concord.Code
	}{
		{"bad JSON", "PUT", "/api/v1/kv/bad", `{"value":`, 400, concord.CodeInvalidArgument},
		{"not an object", "PUT", "/api/v1/kv/bad", `[1]`, 400, concord.CodeInvalidArgument},
		{"unknown field", "PUT", "/api/v1/kv/bad", `{"value":1,"vaule":2}`, 400, concord.CodeInvalidArgument},
		{"trailing data", "PUT", "/api/v1/kv/bad", `{"value":1} {"value":2}`, 400, concord.CodeInvalidArgument},
		{"empty body", "PUT", "/api/v1/kv/bad", ``, 400, concord.CodeInvalidArgument},
		{"no value", "PUT", "/api/v1/kv/bad", `{"ttl":5}`, 400, concord.CodeInvalidArgument},
		{"both values", "PUT", "/api/v1/kv/bad", `{"value":1,"value_base64":"AA=="}`, 400, concord.CodeInvalidArgument},
		{"bad base64", "PUT", "/api/v1/kv/bad", `{"value_base64":"!!"}`, 400, concord.CodeInvalidArgument},
		{"ttl a string", "PUT", "/api/v1/kv/bad", `{"value":1,"ttl":"5"}`, 400, concord.CodeInvalidArgument},
		{"ttl fractional", "PUT", "/api/v1/kv/bad", `{"value":1,"ttl":1.5}`, 400, concord.CodeInvalidArgument},
		{"ttl negative", "PUT", "/api/v1/kv/bad", `{"value":1,"ttl":-1}`, 400, concord.CodeInvalidArgument},
		{"ttl too large", "PUT", "/api/v1/kv/bad", fmt.Sprintf(`{"value":1,"ttl":%d}`, maxTTLSeconds+1), 400, concord.CodeInvalidArgument},
		{"ttl overflows", "PUT", "/api/v1/kv/bad", `{"value":1,"ttl":99999999999999999999}`, 400, concord.CodeInvalidArgument},
		{"ttl and keep_ttl", "PUT", "/api/v1/kv/bad", `{"value":1,"ttl":5,"keep_ttl":true}`, 400, concord.CodeInvalidArgument},
		{"version a string", "PUT", "/api/v1/kv/bad", `{"value":1,"expected_version":"1"}`, 400, concord.CodeInvalidArgument},
		{"version zero", "PUT", "/api/v1/kv/bad", `{"value":1,"expected_version":0}`, 400, concord.CodeInvalidArgument},
		{"version negative", "PUT", "/api/v1/kv/bad?expected_version=-1", `{"value":1}`, 400, concord.CodeInvalidArgument},
		{"condition twice", "PUT", "/api/v1/kv/bad?expected_version=1", `{"value":1,"expected_version":1}`, 400, concord.CodeInvalidArgument},
		{"contradiction", "PUT", "/api/v1/kv/bad", `{"value":1,"must_exist":true,"must_not_exist":true}`, 400, concord.CodeInvalidArgument},
		{"bad bool", "PUT", "/api/v1/kv/bad?must_exist=maybe", `{"value":1}`, 400, concord.CodeInvalidArgument},
		{"expected_value not JSON", "PUT", "/api/v1/kv/bad?expected_value=abc", `{"value":1}`, 400, concord.CodeInvalidArgument},
		{"unknown query", "PUT", "/api/v1/kv/bad?ttl=5", `{"value":1}`, 400, concord.CodeInvalidArgument},
		{"repeated query", "GET", "/api/v1/kv/bad?consistency=strong&consistency=leader", ``, 400, concord.CodeInvalidArgument},
		{"malformed query", "GET", "/api/v1/kv/bad?consistency=%zz", ``, 400, concord.CodeInvalidArgument},
		{"bad consistency", "GET", "/api/v1/kv/bad?consistency=linearizable", ``, 400, concord.CodeInvalidArgument},
		{"bad encoding", "GET", "/api/v1/kv/bad?encoding=hex", ``, 400, concord.CodeInvalidArgument},
		{"bad with_ttl", "GET", "/api/v1/kv/bad?with_ttl=yes", ``, 400, concord.CodeInvalidArgument},
		{"key too long", "PUT", "/api/v1/kv/" + longKey, `{"value":1}`, 400, concord.CodeInvalidKey},
		{"key too long get", "GET", "/api/v1/kv/" + longKey, ``, 400, concord.CodeInvalidKey},
		{"value too large", "PUT", "/api/v1/kv/bad", bigValue, 413, concord.CodeValueTooLarge},
		{"delete must_not_exist", "DELETE", "/api/v1/kv/bad?must_not_exist=true", ``, 400, concord.CodeInvalidArgument},
		{"delete unknown field", "DELETE", "/api/v1/kv/bad", `{"force":true}`, 400, concord.CodeInvalidArgument},
		{"delete unknown query", "DELETE", "/api/v1/kv/bad?recursive=true", ``, 400, concord.CodeInvalidArgument},
		{"touch no ttl", "POST", "/api/v1/kv/bad/touch", `{}`, 400, concord.CodeInvalidArgument},
		{"touch ttl negative", "POST", "/api/v1/kv/bad/touch", `{"ttl":-5}`, 400, concord.CodeInvalidArgument},
		{"touch ttl null", "POST", "/api/v1/kv/bad/touch", `{"ttl":null}`, 400, concord.CodeInvalidArgument},
		{"ttl bad consistency", "GET", "/api/v1/kv/bad/ttl?consistency=x", ``, 400, concord.CodeInvalidArgument},
		{"list bad limit", "GET", "/api/v1/kv?limit=-1", ``, 400, concord.CodeInvalidArgument},
		{"list limit not a number", "GET", "/api/v1/kv?limit=ten", ``, 400, concord.CodeInvalidArgument},
		{"list limit too large", "GET", "/api/v1/kv?limit=501", ``, 413, concord.CodeBatchTooLarge},
		{"list bad cursor", "GET", "/api/v1/kv?cursor=***", ``, 400, concord.CodeInvalidArgument},
		{"method not allowed", "PATCH", "/api/v1/kv/bad", `{"value":1}`, 405, concord.CodeInvalidArgument},
		{"no route", "GET", "/api/v2/kv/bad", ``, 404, concord.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			call(t, 1, c.method, c.path, c.body).fails(t, c.status, c.code)
			unchanged(t, "bad", before)
		})
	}
}

// TestEmptyKey checks that the empty key (no path segment) is refused:
// the path is the listing's with a slash, which no route serves.
func TestEmptyKey(t *testing.T) {
	t.Parallel()
	call(t, 0, http.MethodPut, "/api/v1/kv/", `{"value":1}`).fails(t, http.StatusNotFound, concord.CodeNotFound)
	call(t, 0, http.MethodPost, "/api/v1/kv/bulk", `{"items":[{"key":"","value":1}]}`).fails(t, http.StatusBadRequest, concord.CodeInvalidKey)
}

// TestBodyLimit checks that a body over MaxBodyBytes is 413 with the
// code of its route's kind, and changes nothing.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(nodes[0], Options{MaxBodyBytes: 1024}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	big := strings.Repeat("x", 1024)
	for _, c := range []struct {
		method, path, body string
		code               concord.Code
	}{
		{http.MethodPut, "/api/v1/kv/body-limit", `{"value":"` + big + `"}`, concord.CodeValueTooLarge},
		{http.MethodPost, "/api/v1/kv/bulk", `{"items":[{"key":"body-limit","value":"` + big + `"}]}`, concord.CodeBatchTooLarge},
	} {
		req, err := http.NewRequestWithContext(ctx, c.method, srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), `"code":"`+string(c.code)+`"`) {
			t.Fatalf("%s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
		unchanged(t, "body-limit", nil)
	}
	if got := defaultMaxBody(testLimits()); got < 6<<20 {
		t.Fatalf("default body bound %d cannot carry a maximal value as JSON", got)
	}
}
