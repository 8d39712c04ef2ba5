package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/concord-kv/concord"
	kvapi "github.com/concord-kv/concord/api/kvpb"
)

// remoteError is an error a node reported: its text is the node's, and it
// wraps the sentinel of the node's code, so errors.Is works as in process.
type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// decoded is a failed RPC in the vocabulary's terms. fromNode reports
// that a node answered with a Concord code; otherwise the failure is
// gRPC's own (a connection problem, a deadline the client's context hit).
type decoded struct {
	err      error
	code     concord.Code
	fromNode bool
	// neverSent reports a connection that was never established: the
	// request did not reach any node.
	neverSent bool
}

// decodeError turns an RPC error into an error of the vocabulary. A node
// puts its code and ": " in front of the status message (see kv_service.proto).
func decodeError(op string, err error) decoded {
	st, ok := status.FromError(err)
	if !ok {
		// Not from gRPC: a context error, or a failure of this client.
		e := fmt.Errorf("concord client: %s: %w", op, err)
		if concord.CodeOf(err) == concord.CodeInternal && !errors.Is(err, context.Canceled) {
			e = fmt.Errorf("concord client: %s: %w: %w", op, concord.ErrInternal, err)
		}
		return decoded{err: e, code: concord.CodeOf(e)}
	}
	msg := st.Message()
	if c, rest, ok := strings.Cut(msg, ": "); ok && knownCode(concord.Code(c)) {
		code := concord.Code(c)
		return decoded{err: &remoteError{sentinel: code.Err(), msg: rest}, code: code, fromNode: true}
	}
	var e error
	switch st.Code() {
	case codes.DeadlineExceeded:
		e = fmt.Errorf("concord client: %s: %w: %w", op, concord.ErrTimeout, context.DeadlineExceeded)
	case codes.Canceled:
		e = fmt.Errorf("concord client: %s: %w", op, context.Canceled)
	case codes.Unavailable:
		e = fmt.Errorf("concord client: %s: %w: %s", op, concord.ErrUnavailable, msg)
	default:
		e = fmt.Errorf("concord client: %s: %w: %s: %s", op, concord.ErrInternal, st.Code(), msg)
	}
	return decoded{
		err:  e,
		code: concord.CodeOf(e),
		// gRPC's picker fails a call on a connection in transient failure
		// with this message before anything is written to the wire.
		neverSent: st.Code() == codes.Unavailable && strings.HasPrefix(msg, "connection error"),
	}
}

// knownCode reports whether c is a code of the vocabulary.
func knownCode(c concord.Code) bool {
	return c == concord.CodeInternal || !errors.Is(c.Err(), concord.ErrInternal)
}

// itemError is the error of a per-item outcome: nil for "ok".
func itemError(e *kvapi.Error) error {
	if e == nil {
		return fmt.Errorf("concord client: %w: missing item outcome", concord.ErrInternal)
	}
	c := concord.Code(e.GetCode())
	if c == concord.CodeOK {
		return nil
	}
	return &remoteError{sentinel: c.Err(), msg: e.GetMessage()}
}
