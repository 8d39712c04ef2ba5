package httpapi

import (
	"encoding/json"
	"net/url"

	"github.com/concord-kv/concord"
)

// conditionFields are the conditions of a conditional put or delete, as
// body fields; the same names are query parameters. They combine with
// AND, and giving any of them makes the write conditional.
type conditionFields struct {
	ExpectedValue       json.RawMessage `json:"expected_value"`
	ExpectedValueBase64 *string         `json:"expected_value_base64"`
	ExpectedVersion     *uint64         `json:"expected_version"`
	ExpectedModRevision *uint64         `json:"expected_mod_revision"`
	MustExist           bool            `json:"must_exist"`
	MustNotExist        bool            `json:"must_not_exist"`
}

// conditionQueryFields reads the conditions given as query parameters.
// expected_value is a JSON text there, as in a body.
func conditionQueryFields(q url.Values) (conditionFields, error) {
	var c conditionFields
	if v, ok := q["expected_value"]; ok {
		if !json.Valid([]byte(v[0])) {
			return c, invalidArg("expected_value %q is not a JSON value (quote a string: \"abc\")", v[0])
		}
		c.ExpectedValue = json.RawMessage(v[0])
	}
	if v, ok := q["expected_value_base64"]; ok {
		c.ExpectedValueBase64 = &v[0]
	}
	var err error
	if c.ExpectedVersion, err = parsePositive(q, "expected_version"); err != nil {
		return c, err
	}
	if c.ExpectedModRevision, err = parsePositive(q, "expected_mod_revision"); err != nil {
		return c, err
	}
	if c.MustExist, err = parseBool(q, "must_exist"); err != nil {
		return c, err
	}
	if c.MustNotExist, err = parseBool(q, "must_not_exist"); err != nil {
		return c, err
	}
	return c, nil
}

// merge adds the conditions of o to c; a condition given in both places
// is ambiguous and rejected.
func (c *conditionFields) merge(o conditionFields) error {
	if (c.ExpectedValue != nil || c.ExpectedValueBase64 != nil) && (o.ExpectedValue != nil || o.ExpectedValueBase64 != nil) {
		return invalidArg("the expected value is given in both the body and the query")
	}
	if c.ExpectedVersion != nil && o.ExpectedVersion != nil {
		return invalidArg("expected_version is given in both the body and the query")
	}
	if c.ExpectedModRevision != nil && o.ExpectedModRevision != nil {
		return invalidArg("expected_mod_revision is given in both the body and the query")
	}
	if c.ExpectedValue == nil {
		c.ExpectedValue = o.ExpectedValue
	}
	if c.ExpectedValueBase64 == nil {
		c.ExpectedValueBase64 = o.ExpectedValueBase64
	}
	if c.ExpectedVersion == nil {
		c.ExpectedVersion = o.ExpectedVersion
	}
	if c.ExpectedModRevision == nil {
		c.ExpectedModRevision = o.ExpectedModRevision
	}
	c.MustExist = c.MustExist || o.MustExist
	c.MustNotExist = c.MustNotExist || o.MustNotExist
	return nil
}

// options returns the conditions as concord options; none means the
// write is unconditional. Contradictions are rejected here so that the
// answer does not depend on the KV implementation.
func (c *conditionFields) options() ([]concord.Option, error) {
	var opts []concord.Option
	if c.ExpectedValue != nil && c.ExpectedValueBase64 != nil {
		return nil, invalidArg("give expected_value or expected_value_base64, not both")
	}
	if c.ExpectedValue != nil {
		v, err := compactJSON(c.ExpectedValue)
		if err != nil {
			return nil, err
		}
		opts = append(opts, concord.IfValue(v))
	}
	if c.ExpectedValueBase64 != nil {
		v, err := decodeBase64("expected_value_base64", *c.ExpectedValueBase64)
		if err != nil {
			return nil, err
		}
		opts = append(opts, concord.IfValue(v))
	}
	if c.ExpectedVersion != nil {
		if *c.ExpectedVersion == 0 {
			return nil, invalidArg("expected_version must be positive (use must_not_exist for a missing key)")
		}
		opts = append(opts, concord.IfVersion(*c.ExpectedVersion))
	}
	if c.ExpectedModRevision != nil {
		if *c.ExpectedModRevision == 0 {
			return nil, invalidArg("expected_mod_revision must be positive")
		}
		opts = append(opts, concord.IfModRevision(*c.ExpectedModRevision))
	}
	if c.MustExist {
		opts = append(opts, concord.IfExists())
	}
	if c.MustNotExist {
		if len(opts) > 0 {
			return nil, invalidArg("must_not_exist contradicts every other condition")
		}
		opts = append(opts, concord.IfNotExists())
	}
	return opts, nil
}
