// Package httpapi is Concord's HTTP REST API: the /api/v1 routes of the
// Elixir Concord (single-key, TTL, bulk, listing, status, health,
// readiness) over any concord.KV, with the JSON envelopes
//
//	{"status":"ok","data":...}
//	{"status":"error","error":{"code":"<concord.Code>","message":"..."}}
//
// its OpenAPI 3 document at /api/v1/openapi.json and interactive
// documentation at /api/docs, both served from the binary.
//
// It owns the translation between HTTP and the KV API: decoding and
// checking requests, mapping concord.Code onto HTTP statuses, and the
// request metrics. It must never hold state of its own, never invent an
// error vocabulary beside concord.Code, never fetch anything from the
// internet (the docs page is self-contained), and never change anything
// when a request is rejected as bad input: every check runs before the
// KV is called.
//
// # Values and keys
//
// A key is the percent-decoded path segment (or query value, or JSON
// string), so any bytes can be a key: a "/" in a key is sent as %2F, and
// the keys "." and ".." as %2E and %2E%2E (clients and path cleaning
// treat the bare forms as dot segments). A key in a JSON body may instead
// be given base64-encoded ("key_base64"). The literal bulk routes win
// over the key routes: POST /api/v1/kv/bulk/touch is always the bulk
// touch, so the key "bulk" is touched with a bulk touch of one item.
//
// A value written as "value" (any JSON value) is stored as its compact
// JSON text. A value written as "value_base64" is stored as the decoded
// bytes. Reads return "value" (a JSON value) when the stored bytes are
// valid UTF-8 JSON text, and "value_base64" otherwise or when the request
// asks for encoding=base64; the "encoding" field ("json" or "base64")
// always says which. Keys follow the same rule: "key" when valid UTF-8
// (and base64 was not asked for), "key_base64" otherwise.
package httpapi
