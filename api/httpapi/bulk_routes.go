package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/concord-kv/concord"
)

// Bulk routes take 1..Limits.MaxBatchItems items, checked here before the
// KV is called. The answer has one result per item, in request order. A
// bulk write's items are applied per range (see concord.PutMany): when
// some ranges failed, the answer is still 200 with each item's outcome in
// its result, "failed" counting the failed items and "error" the cause;
// when the call failed as a whole it is the error envelope.

// bulkPutBody is the body of POST /api/v1/kv/bulk.
type bulkPutBody struct {
	Items []bulkPutItem `json:"items"`
}

// bulkPutItem is one item of a bulk put.
type bulkPutItem struct {
	Key         *string         `json:"key"`
	KeyBase64   *string         `json:"key_base64"`
	Value       json.RawMessage `json:"value"`
	ValueBase64 *string         `json:"value_base64"`
	// TTL is in seconds; 0 or absent means no expiry.
	TTL *int64 `json:"ttl"`
}

// bulkKeysBody is the body of bulk get and bulk delete: the keys as
// strings or as base64, one of the two.
type bulkKeysBody struct {
	Keys       []string `json:"keys"`
	KeysBase64 []string `json:"keys_base64"`
}

// bulkTouchBody is the body of POST /api/v1/kv/bulk/touch.
type bulkTouchBody struct {
	Items []bulkTouchItem `json:"items"`
}

// bulkTouchItem is one item of a bulk touch.
type bulkTouchItem struct {
	Key       *string `json:"key"`
	KeyBase64 *string `json:"key_base64"`
	// TTL is required: seconds from now, 0 to remove the expiry.
	TTL *int64 `json:"ttl"`
}

// bulkResult is one item's outcome in a bulk write's answer.
type bulkResult struct {
	Key       string    `json:"key,omitempty"`
	KeyBase64 string    `json:"key_base64,omitempty"`
	Status    string    `json:"status"`
	Error     *errorDoc `json:"error,omitempty"`
}

// bulkWriteDoc is the answer of a bulk write.
type bulkWriteDoc struct {
	Results []bulkResult `json:"results"`
	Failed  int          `json:"failed"`
	Error   *errorDoc    `json:"error,omitempty"`
}

// bulkGetDoc is the answer of a bulk get.
type bulkGetDoc struct {
	Results []kvDoc `json:"results"`
}

// checkCount checks a bulk call's item count against the limits.
func (s *server) checkCount(n int) error {
	switch {
	case n == 0:
		return invalidArg("no items: a bulk call takes 1 to %d", s.opts.Limits.MaxBatchItems)
	case n > s.opts.Limits.MaxBatchItems:
		return fmt.Errorf("%w: %d items, at most %d", concord.ErrBatchTooLarge, n, s.opts.Limits.MaxBatchItems)
	}
	return nil
}

// bulkPut writes many keys.
func (s *server) bulkPut(r *http.Request) (any, error) {
	var body bulkPutBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if err := s.checkCount(len(body.Items)); err != nil {
		return nil, err
	}
	items := make([]concord.PutItem, len(body.Items))
	keys := make([][]byte, len(body.Items))
	for i, it := range body.Items {
		what := fmt.Sprintf("item %d", i)
		key, err := keyOf(what, it.Key, it.KeyBase64)
		if err != nil {
			return nil, err
		}
		value, err := valueOf(what, it.Value, it.ValueBase64)
		if err != nil {
			return nil, err
		}
		var ttl time.Duration
		if it.TTL != nil {
			if ttl, err = ttlSeconds(what+": ttl", *it.TTL); err != nil {
				return nil, err
			}
		}
		items[i], keys[i] = concord.PutItem{Key: key, Value: value, TTL: ttl}, key
	}
	itemErrs, err := s.kv.PutMany(r.Context(), items)
	return bulkWriteAnswer(keys, itemErrs, err)
}

// bulkKeys reads the keys of a bulk get or delete.
func (s *server) bulkKeys(r *http.Request) ([][]byte, error) {
	var body bulkKeysBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.Keys != nil && body.KeysBase64 != nil {
		return nil, invalidArg("give keys or keys_base64, not both")
	}
	n := max(len(body.Keys), len(body.KeysBase64))
	if err := s.checkCount(n); err != nil {
		return nil, err
	}
	keys := make([][]byte, n)
	for i := range n {
		if body.Keys != nil {
			keys[i] = []byte(body.Keys[i])
			continue
		}
		k, err := decodeBase64(fmt.Sprintf("keys_base64[%d]", i), body.KeysBase64[i])
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}

// bulkGet reads many keys; a missing key has "found": false.
func (s *server) bulkGet(r *http.Request) (any, error) {
	q := query(r)
	level, err := parseConsistency(q)
	if err != nil {
		return nil, err
	}
	b64, err := wantBase64(q)
	if err != nil {
		return nil, err
	}
	keys, err := s.bulkKeys(r)
	if err != nil {
		return nil, err
	}
	kvs, err := s.kv.GetMany(r.Context(), keys, concord.WithConsistency(level))
	if err != nil {
		return nil, err
	}
	if len(kvs) != len(keys) {
		return nil, fmt.Errorf("bulk get: %d results for %d keys", len(kvs), len(keys))
	}
	o := render{b64: b64, now: time.Now()}
	out := bulkGetDoc{Results: make([]kvDoc, len(keys))}
	for i, kv := range kvs {
		found := kv != nil
		if found {
			out.Results[i] = o.doc(withKey(kv, keys[i]))
		} else {
			o.keyDoc(&out.Results[i], keys[i])
		}
		out.Results[i].Found = &found
	}
	return out, nil
}

// bulkDelete removes many keys; a missing key is that item's not_found.
func (s *server) bulkDelete(r *http.Request) (any, error) {
	keys, err := s.bulkKeys(r)
	if err != nil {
		return nil, err
	}
	itemErrs, err := s.kv.DeleteMany(r.Context(), keys)
	return bulkWriteAnswer(keys, itemErrs, err)
}

// bulkTouch sets the expiry of many keys.
func (s *server) bulkTouch(r *http.Request) (any, error) {
	var body bulkTouchBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if err := s.checkCount(len(body.Items)); err != nil {
		return nil, err
	}
	items := make([]concord.TouchItem, len(body.Items))
	keys := make([][]byte, len(body.Items))
	for i, it := range body.Items {
		what := fmt.Sprintf("item %d", i)
		key, err := keyOf(what, it.Key, it.KeyBase64)
		if err != nil {
			return nil, err
		}
		if it.TTL == nil {
			return nil, invalidArg("%s: ttl is required", what)
		}
		ttl, err := ttlSeconds(what+": ttl", *it.TTL)
		if err != nil {
			return nil, err
		}
		items[i], keys[i] = concord.TouchItem{Key: key, TTL: ttl}, key
	}
	itemErrs, err := s.kv.TouchMany(r.Context(), items)
	return bulkWriteAnswer(keys, itemErrs, err)
}

// bulkWriteAnswer turns a bulk write's outcome into its answer: the error
// envelope when the call failed as a whole, per-item results otherwise.
func bulkWriteAnswer(keys [][]byte, itemErrs []error, err error) (any, error) {
	if itemErrs == nil && err != nil {
		return nil, err
	}
	if len(itemErrs) != len(keys) {
		return nil, fmt.Errorf("bulk write: %d outcomes for %d items", len(itemErrs), len(keys))
	}
	out := bulkWriteDoc{Results: make([]bulkResult, len(keys))}
	for i, key := range keys {
		var d kvDoc
		render{}.keyDoc(&d, key)
		res := bulkResult{Key: d.Key, KeyBase64: d.KeyBase64, Status: "ok"}
		if e := itemErrs[i]; e != nil {
			res.Status = "error"
			res.Error = &errorDoc{Code: codeOf(e), Message: e.Error()}
			out.Failed++
		}
		out.Results[i] = res
	}
	if err != nil {
		out.Error = &errorDoc{Code: codeOf(err), Message: err.Error()}
	}
	return out, nil
}
