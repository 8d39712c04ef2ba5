package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadOpenAPI fetches the document from a server and validates it.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body := get(ctx, t, servers[0].URL+"/api/v1/openapi.json", http.StatusOK)
	doc, err := openapi3.NewLoader().LoadFromData([]byte(body))
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	return doc
}

// TestOpenAPIDescribesEveryRoute walks the route table: every route is
// an operation of the document with the route's op as operationId and
// exactly the route's query parameters; and the document describes no
// operation that is not a route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	described := 0
	for _, item := range doc.Paths.Map() {
		described += len(item.Operations())
	}
	rts := routes()
	if described != len(rts) {
		t.Errorf("the document has %d operations, the route table %d routes", described, len(rts))
	}
	for _, rt := range rts {
		item := doc.Paths.Value(rt.path)
		if item == nil {
			t.Errorf("%s %s: path not in the document", rt.method, rt.path)
			continue
		}
		op := item.GetOperation(rt.method)
		if op == nil {
			t.Errorf("%s %s: method not in the document", rt.method, rt.path)
			continue
		}
		if op.OperationID != rt.op {
			t.Errorf("%s %s: operationId %q, route op %q", rt.method, rt.path, op.OperationID, rt.op)
		}
		if op.Summary == "" || op.Responses.Value("200") == nil {
			t.Errorf("%s %s: no summary or no 200 response", rt.method, rt.path)
		}
		var query []string
		for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
			switch p.Value.In {
			case "query":
				query = append(query, p.Value.Name)
			case "path":
				if !strings.Contains(rt.path, "{"+p.Value.Name+"}") {
					t.Errorf("%s %s: path parameter %q not in the path", rt.method, rt.path, p.Value.Name)
				}
			}
		}
		slices.Sort(query)
		want := slices.Sorted(slices.Values(rt.query))
		if !slices.Equal(query, want) {
			t.Errorf("%s %s: documented query parameters %v, route takes %v", rt.method, rt.path, query, want)
		}
		if (op.RequestBody != nil) != takesBody(rt) {
			t.Errorf("%s %s: request body documented: %v", rt.method, rt.path, op.RequestBody != nil)
		}
	}
}

// takesBody reports whether a route reads a JSON body.
func takesBody(rt route) bool {
	return rt.method == http.MethodPut || rt.method == http.MethodPost || rt.method == http.MethodDelete
}

// TestOpenAPIMatchesAnswers checks real answers against the document's
// schemas, so that the document describes what the API returns.
func TestOpenAPIMatchesAnswers(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	mustPut(t, "openapi-a", `{"x":[1]}`)
	cases := []struct{ method, path, body string }{
		{"PUT", "/api/v1/kv/openapi-b", `{"value":"b","ttl":60}`},
		{"GET", "/api/v1/kv/openapi-a?with_ttl=true", ``},
		{"GET", "/api/v1/kv/openapi-b/ttl", ``},
		{"POST", "/api/v1/kv/openapi-b/touch", `{"ttl":0}`},
		{"POST", "/api/v1/kv/bulk", `{"items":[{"key":"openapi-c","value":1}]}`},
		{"POST", "/api/v1/kv/bulk/get", `{"keys":["openapi-a","openapi-none"]}`},
		{"POST", "/api/v1/kv/bulk/touch", `{"items":[{"key":"openapi-none","ttl":1}]}`},
		{"POST", "/api/v1/kv/bulk/delete", `{"keys":["openapi-c"]}`},
		{"GET", "/api/v1/kv?prefix=openapi-&limit=1", ``},
		{"GET", "/api/v1/status", ``},
		{"GET", "/api/v1/health", ``},
		{"GET", "/api/v1/ready", ``},
		{"DELETE", "/api/v1/kv/openapi-b", ``},
		{"GET", "/api/v1/kv/openapi-b", ``},
		{"PUT", "/api/v1/kv/openapi-a", `{"value":1,"must_not_exist":true}`},
	}
	for _, c := range cases {
		a := call(t, 0, c.method, c.path, c.body)
		pathOnly, _, _ := strings.Cut(c.path, "?")
		item := findPath(doc, pathOnly)
		if item == nil {
			t.Fatalf("%s: no documented path", c.path)
		}
		resp := item.GetOperation(c.method).Responses.Status(a.status)
		if resp == nil {
			t.Fatalf("%s %s: status %d not documented", c.method, c.path, a.status)
		}
		schema := resp.Value.Content.Get("application/json").Schema.Value
		var v any
		if err := json.Unmarshal(a.raw, &v); err != nil {
			t.Fatal(err)
		}
		if err := schema.VisitJSON(v); err != nil {
			t.Errorf("%s %s: answer %s does not match the document: %v", c.method, c.path, a.raw, err)
		}
	}
}

// findPath finds the documented path of a concrete path: itself when it
// is documented (a literal path wins over a template, as in the mux),
// otherwise the template it matches.
func findPath(doc *openapi3.T, path string) *openapi3.PathItem {
	if item := doc.Paths.Value(path); item != nil {
		return item
	}
	segs := strings.Split(path, "/")
	for tmpl, item := range doc.Paths.Map() {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		match := true
		for i := range ts {
			if ts[i] != segs[i] && !strings.HasPrefix(ts[i], "{") {
				match = false
			}
		}
		if match {
			return item
		}
	}
	return nil
}
