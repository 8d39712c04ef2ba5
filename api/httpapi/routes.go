package httpapi

import "net/http"

// route is one entry of the route table. The table is the single list the
// mux is built from and the test that checks the OpenAPI document walks,
// so a route cannot be served without being documented.
type route struct {
	// method and path make the ServeMux pattern; path uses {key} for the
	// percent-decoded key segment.
	method, path string
	// op names the operation: its OpenAPI operationId and its metrics
	// label.
	op string
	// query lists the query parameters the route accepts; a request with
	// any other is rejected before the KV is called, so a misspelt option
	// is never silently ignored.
	query []string
	// bulk makes an oversized body report batch_too_large rather than
	// value_too_large.
	bulk bool
	// serve answers an enveloped JSON route: data for the "ok" envelope,
	// or an error whose concord.Code picks the status and error envelope.
	serve func(s *server, r *http.Request) (any, error)
	// raw answers a route that is not enveloped (documents, metrics); it
	// is used when serve is nil.
	raw func(s *server) http.Handler
}

// The query parameters shared by several routes.
var (
	conditionQuery = []string{"expected_value", "expected_value_base64", "expected_version", "expected_mod_revision", "must_exist", "must_not_exist"}
	readQuery      = []string{"consistency", "encoding"}
)

// routes returns the route table.
func routes() []route {
	return []route{
		{method: http.MethodPut, path: "/api/v1/kv/{key}", op: "put", query: conditionQuery, serve: (*server).put},
		{method: http.MethodGet, path: "/api/v1/kv/{key}", op: "get", query: append([]string{"with_ttl"}, readQuery...), serve: (*server).get},
		{method: http.MethodDelete, path: "/api/v1/kv/{key}", op: "delete", query: conditionQuery, serve: (*server).delete},
		{method: http.MethodPost, path: "/api/v1/kv/{key}/touch", op: "touch", serve: (*server).touch},
		{method: http.MethodGet, path: "/api/v1/kv/{key}/ttl", op: "ttl", query: []string{"consistency"}, serve: (*server).ttl},
		{method: http.MethodPost, path: "/api/v1/kv/bulk", op: "bulk_put", bulk: true, serve: (*server).bulkPut},
		{method: http.MethodPost, path: "/api/v1/kv/bulk/get", op: "bulk_get", query: readQuery, bulk: true, serve: (*server).bulkGet},
		{method: http.MethodPost, path: "/api/v1/kv/bulk/delete", op: "bulk_delete", bulk: true, serve: (*server).bulkDelete},
		{method: http.MethodPost, path: "/api/v1/kv/bulk/touch", op: "bulk_touch", bulk: true, serve: (*server).bulkTouch},
		{method: http.MethodGet, path: "/api/v1/kv", op: "list", query: []string{"prefix", "limit", "cursor", "keys_only", "consistency", "encoding"}, serve: (*server).list},
		{method: http.MethodGet, path: "/api/v1/status", op: "status", serve: (*server).status},
		{method: http.MethodGet, path: "/api/v1/health", op: "health", serve: (*server).health},
		{method: http.MethodGet, path: "/api/v1/ready", op: "ready", serve: (*server).ready},
		{method: http.MethodGet, path: "/api/v1/openapi.json", op: "openapi", raw: (*server).openAPI},
		{method: http.MethodGet, path: "/api/docs", op: "docs", raw: (*server).docs},
		{method: http.MethodGet, path: "/metrics", op: "metrics", raw: (*server).metricsHandler},
	}
}
