package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/concord-kv/concord"
)

// okEnvelope is the body of every successful enveloped response.
type okEnvelope struct {
	Status string `json:"status"`
	Data   any    `json:"data"`
}

// errEnvelope is the body of every failed enveloped response.
type errEnvelope struct {
	Status string   `json:"status"`
	Error  errorDoc `json:"error"`
}

// errorDoc is an error as the API reports it, in the envelope and in the
// per-item results of bulk calls.
type errorDoc struct {
	Code    concord.Code `json:"code"`
	Message string       `json:"message"`
}

// statusOf maps the error vocabulary onto HTTP statuses. 401 and 403 are
// kept for authentication, which does not exist yet.
func statusOf(c concord.Code) int {
	switch c {
	case concord.CodeOK:
		return http.StatusOK
	case concord.CodeInvalidKey, concord.CodeInvalidArgument:
		return http.StatusBadRequest
	case concord.CodeNotFound:
		return http.StatusNotFound
	case concord.CodeTimeout:
		return http.StatusRequestTimeout
	case concord.CodeConditionFailed:
		return http.StatusConflict
	case concord.CodeValueTooLarge, concord.CodeBatchTooLarge:
		return http.StatusRequestEntityTooLarge
	case concord.CodeUnavailable, concord.CodeClosed:
		return http.StatusServiceUnavailable
	case concord.CodeCompacted:
		return http.StatusGone
	default:
		return http.StatusInternalServerError
	}
}

// codeOf is concord.CodeOf, except that a request its client abandoned
// reads as a timeout rather than an internal error: nothing failed on
// the server's side.
func codeOf(err error) concord.Code {
	if err != nil && errors.Is(err, context.Canceled) && concord.CodeOf(err) == concord.CodeInternal {
		return concord.CodeTimeout
	}
	return concord.CodeOf(err)
}

// invalidArg is a bad-input error of code invalid_argument.
func invalidArg(format string, args ...any) error {
	return fmt.Errorf("%w: %s", concord.ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// tooLarge gives a body that exceeded MaxBodyBytes its code: batch too
// large on bulk routes, value too large elsewhere. Other errors pass.
func tooLarge(err error, bulk bool) error {
	var mb *http.MaxBytesError
	if !errors.As(err, &mb) {
		return err
	}
	sentinel := concord.ErrValueTooLarge
	if bulk {
		sentinel = concord.ErrBatchTooLarge
	}
	return fmt.Errorf("%w: request body exceeds %d bytes", sentinel, mb.Limit)
}

// writeJSON writes v as the JSON body of a response with this status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(errEnvelope{Status: "error", Error: errorDoc{Code: concord.CodeInternal, Message: "encoding the response: " + err.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError writes the error envelope with the status of code.
func writeError(w http.ResponseWriter, code concord.Code, msg string) {
	writeErrorStatus(w, statusOf(code), code, msg)
}

// writeErrorStatus writes the error envelope with an explicit status, for
// the few answers (405) the vocabulary has no status for.
func writeErrorStatus(w http.ResponseWriter, status int, code concord.Code, msg string) {
	writeJSON(w, status, errEnvelope{Status: "error", Error: errorDoc{Code: code, Message: msg}})
}
