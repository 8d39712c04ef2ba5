package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/concord-kv/concord"
)

// defaultListLimit is the page size of a listing without limit.
const defaultListLimit = 100

// listDoc is a page of a listing. NextCursor, present when more keys may
// follow, is passed back as cursor to get the next page.
type listDoc struct {
	Items      []kvDoc `json:"items"`
	More       bool    `json:"more"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// list pages through the keys (concord.Node.Scan: ring order, not key
// order). The cursor is opaque to clients: the base64url of the last key
// of the previous page.
func (s *server) list(r *http.Request) (any, error) {
	q := query(r)
	level, err := parseConsistency(q)
	if err != nil {
		return nil, err
	}
	b64, err := wantBase64(q)
	if err != nil {
		return nil, err
	}
	keysOnly, err := parseBool(q, "keys_only")
	if err != nil {
		return nil, err
	}
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, invalidArg("limit %q: want a positive integer", v)
		}
		if n > s.opts.Limits.MaxBatchItems {
			return nil, fmt.Errorf("%w: limit %d, at most %d", concord.ErrBatchTooLarge, n, s.opts.Limits.MaxBatchItems)
		}
		limit = n
	}
	var after []byte
	cursor := q.Get("cursor")
	if cursor != "" {
		if after, err = base64.RawURLEncoding.DecodeString(cursor); err != nil || len(after) == 0 {
			return nil, invalidArg("cursor %q is not a cursor this API returned", cursor)
		}
	}
	opts := []concord.Option{concord.WithConsistency(level)}
	if p := q.Get("prefix"); p != "" {
		opts = append(opts, concord.WithPrefix([]byte(p)))
	}
	if keysOnly {
		opts = append(opts, concord.WithKeysOnly())
	}
	page, more, err := s.kv.Scan(r.Context(), after, limit, opts...)
	if err != nil {
		return nil, err
	}
	o := render{b64: b64, now: time.Now()}
	out := listDoc{Items: make([]kvDoc, 0, len(page)), More: more}
	for _, kv := range page {
		if kv == nil {
			return nil, fmt.Errorf("list: the scan returned a nil entry")
		}
		out.Items = append(out.Items, o.doc(kv))
	}
	if more {
		out.NextCursor = cursor
		if len(page) > 0 {
			out.NextCursor = base64.RawURLEncoding.EncodeToString(page[len(page)-1].Key)
		}
	}
	return out, nil
}
