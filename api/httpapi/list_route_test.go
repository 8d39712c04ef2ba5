package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// TestListPages writes keys under a prefix and pages through them with
// small pages, following the cursors, through different nodes.
func TestListPages(t *testing.T) {
	t.Parallel()
	var want []string
	for i := range 7 {
		k := fmt.Sprintf("list/%d", i)
		mustPut(t, k, fmt.Sprint(i))
		want = append(want, k)
	}
	mustPut(t, "listx", "not under the prefix")
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatalf("more than 10 pages of 3 for 7 keys: %v", seen)
		}
		q := url.Values{"prefix": {"list/"}, "limit": {"3"}, "consistency": {"strong"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var doc struct {
			Items      []getDoc `json:"items"`
			More       bool     `json:"more"`
			NextCursor string   `json:"next_cursor"`
		}
		call(t, page%3, http.MethodGet, "/api/v1/kv?"+q.Encode(), "").ok(t, &doc)
		if len(doc.Items) > 3 {
			t.Fatalf("page of %d items with limit 3", len(doc.Items))
		}
		for _, it := range doc.Items {
			if string(it.Value) != it.Key[len("list/"):] {
				t.Fatalf("item %+v", it)
			}
			seen = append(seen, it.Key)
		}
		if !doc.More {
			if doc.NextCursor != "" {
				t.Fatalf("last page has cursor %q", doc.NextCursor)
			}
			break
		}
		if doc.NextCursor == "" {
			t.Fatal("more without a cursor")
		}
		cursor = doc.NextCursor
	}
	slices.Sort(seen)
	if !slices.Equal(seen, want) {
		t.Fatalf("listed %v, want %v", seen, want)
	}

	var keysOnly struct {
		Items []getDoc `json:"items"`
	}
	call(t, 0, http.MethodGet, "/api/v1/kv?prefix=list%2F&keys_only=true&limit=500", "").ok(t, &keysOnly)
	if len(keysOnly.Items) != 7 || keysOnly.Items[0].Value != nil || keysOnly.Items[0].Version == 0 {
		t.Fatalf("keys_only: %+v", keysOnly.Items)
	}
}
