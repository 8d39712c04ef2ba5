package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/concord-kv/concord"
)

// bulkWrite is a bulk write's answer as tests decode it.
type bulkWrite struct {
	Results []struct {
		Key    string    `json:"key"`
		Status string    `json:"status"`
		Error  *errorDoc `json:"error"`
	} `json:"results"`
	Failed int `json:"failed"`
}

// TestBulk puts, reads, touches and deletes several keys in one call
// each, through different nodes.
func TestBulk(t *testing.T) {
	t.Parallel()
	bin := base64.StdEncoding.EncodeToString([]byte{0xff, 0})
	var put bulkWrite
	call(t, 0, http.MethodPost, "/api/v1/kv/bulk", `{"items":[
		{"key":"bulk-a","value":{"n":1}},
		{"key":"bulk-b","value":"two","ttl":600},
		{"key_base64":"`+base64.StdEncoding.EncodeToString([]byte("bulk-c"))+`","value_base64":"`+bin+`"}]}`).ok(t, &put)
	if len(put.Results) != 3 || put.Failed != 0 || put.Results[2].Key != "bulk-c" || put.Results[0].Status != "ok" {
		t.Fatalf("bulk put: %+v", put)
	}
	if kv := stored(t, "bulk-c"); kv == nil || string(kv.Value) != "\xff\x00" {
		t.Fatalf("bulk-c stored %+v", kv)
	}
	var got struct {
		Results []getDoc `json:"results"`
	}
	call(t, 1, http.MethodPost, "/api/v1/kv/bulk/get?consistency=strong", `{"keys":["bulk-a","bulk-missing","bulk-b","bulk-c"]}`).ok(t, &got)
	r := got.Results
	if len(r) != 4 || !*r[0].Found || string(r[0].Value) != `{"n":1}` || *r[1].Found || r[1].Key != "bulk-missing" || r[1].Value != nil ||
		string(r[2].Value) != `"two"` || r[2].ExpiresAt == nil || r[3].ValueBase64 == nil || *r[3].ValueBase64 != bin {
		t.Fatalf("bulk get: %s", mustJSON(t, got))
	}
	var touched bulkWrite
	call(t, 2, http.MethodPost, "/api/v1/kv/bulk/touch", `{"items":[{"key":"bulk-a","ttl":300},{"key":"bulk-missing","ttl":300}]}`).ok(t, &touched)
	if touched.Failed != 1 || touched.Results[0].Status != "ok" || touched.Results[1].Error == nil || touched.Results[1].Error.Code != concord.CodeNotFound {
		t.Fatalf("bulk touch: %+v", touched)
	}
	if kv := stored(t, "bulk-a"); kv.ExpiresAt.IsZero() {
		t.Fatal("bulk touch did not set bulk-a's expiry")
	}
	unchanged(t, "bulk-missing", nil)
	var deleted bulkWrite
	call(t, 0, http.MethodPost, "/api/v1/kv/bulk/delete", `{"keys_base64":["`+base64.StdEncoding.EncodeToString([]byte("bulk-a"))+`","`+base64.StdEncoding.EncodeToString([]byte("bulk-missing"))+`"]}`).ok(t, &deleted)
	if deleted.Failed != 1 || deleted.Results[0].Status != "ok" || deleted.Results[1].Error.Code != concord.CodeNotFound {
		t.Fatalf("bulk delete: %+v", deleted)
	}
	unchanged(t, "bulk-a", nil)
}

// TestBulkBadInput checks the limits and malformed bulk bodies: each is
// refused as a whole, writing nothing.
func TestBulkBadInput(t *testing.T) {
	t.Parallel()
	items := func(n int, value string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"key":"bulkbad-%d"%s,"ttl":1}`, i, value)
		}
		return `{"items":[` + strings.Join(parts, ",") + `]}`
	}
	keys := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`"bulkbad-%d"`, i)
		}
		return `{"keys":[` + strings.Join(parts, ",") + `]}`
	}
	cases := []struct {
		name, path, body string
		status           int
		code             concord.Code
	}{
		{"put empty", "/api/v1/kv/bulk", `{"items":[]}`, 400, concord.CodeInvalidArgument},
		{"put no items", "/api/v1/kv/bulk", `{}`, 400, concord.CodeInvalidArgument},
		{"put 501", "/api/v1/kv/bulk", items(501, `,"value":1`), 413, concord.CodeBatchTooLarge},
		{"put bad item", "/api/v1/kv/bulk", `{"items":[{"key":"bulkbad-0","value":1},{"key":"bulkbad-1"}]}`, 400, concord.CodeInvalidArgument},
		{"put bad ttl", "/api/v1/kv/bulk", `{"items":[{"key":"bulkbad-0","value":1},{"key":"bulkbad-1","value":1,"ttl":-1}]}`, 400, concord.CodeInvalidArgument},
		{"put unknown field", "/api/v1/kv/bulk", `{"items":[{"key":"bulkbad-0","value":1,"x":1}]}`, 400, concord.CodeInvalidArgument},
		{"put long key", "/api/v1/kv/bulk", `{"items":[{"key":"bulkbad-0","value":1},{"key":"` + strings.Repeat("k", 4097) + `","value":1}]}`, 400, concord.CodeInvalidKey},
		{"put both keys", "/api/v1/kv/bulk", `{"items":[{"key":"bulkbad-0","key_base64":"AA==","value":1}]}`, 400, concord.CodeInvalidArgument},
		{"get empty", "/api/v1/kv/bulk/get", `{"keys":[]}`, 400, concord.CodeInvalidArgument},
		{"get 501", "/api/v1/kv/bulk/get", keys(501), 413, concord.CodeBatchTooLarge},
		{"get both", "/api/v1/kv/bulk/get", `{"keys":["a"],"keys_base64":["AA=="]}`, 400, concord.CodeInvalidArgument},
		{"get not strings", "/api/v1/kv/bulk/get", `{"keys":[1,2]}`, 400, concord.CodeInvalidArgument},
		{"get bad consistency", "/api/v1/kv/bulk/get?consistency=x", `{"keys":["a"]}`, 400, concord.CodeInvalidArgument},
		{"delete empty", "/api/v1/kv/bulk/delete", `{}`, 400, concord.CodeInvalidArgument},
		{"delete 501", "/api/v1/kv/bulk/delete", keys(501), 413, concord.CodeBatchTooLarge},
		{"delete bad base64", "/api/v1/kv/bulk/delete", `{"keys_base64":["%%"]}`, 400, concord.CodeInvalidArgument},
		{"touch empty", "/api/v1/kv/bulk/touch", `{"items":[]}`, 400, concord.CodeInvalidArgument},
		{"touch 501", "/api/v1/kv/bulk/touch", items(501, ""), 413, concord.CodeBatchTooLarge},
		{"touch with a value", "/api/v1/kv/bulk/touch", items(1, `,"value":1`), 400, concord.CodeInvalidArgument},
		{"touch no ttl", "/api/v1/kv/bulk/touch", `{"items":[{"key":"bulkbad-0"}]}`, 400, concord.CodeInvalidArgument},
		{"touch ttl too large", "/api/v1/kv/bulk/touch", `{"items":[{"key":"bulkbad-0","ttl":` + fmt.Sprint(maxTTLSeconds+1) + `}]}`, 400, concord.CodeInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			call(t, 2, http.MethodPost, c.path, c.body).fails(t, c.status, c.code)
			for _, k := range []string{"bulkbad-0", "bulkbad-1", "bulkbad-500"} {
				unchanged(t, k, nil)
			}
		})
	}
}

// mustJSON renders v for a failure message.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
