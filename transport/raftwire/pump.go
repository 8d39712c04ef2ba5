package raftwire

// received is one result of a stream's Recv.
type received[T any] struct {
	msg *T
	err error
}

// pump runs recv on a goroutine of its own and passes each result over the
// returned channel, stopping after the first error or once done is closed.
// Incoming streams read through a pump so that their handlers can also
// wait for Close: a Recv blocked on a silent peer cannot be interrupted
// otherwise. done is the stream's context, which gRPC cancels as soon as
// the handler returns, unblocking Recv.
//
// The caller must be counted in t.wg (the pump's Add then cannot race
// Close's Wait from zero).
func pump[T any](t *Transport, done <-chan struct{}, recv func() (*T, error)) <-chan received[T] {
	ch := make(chan received[T])
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for {
			m, err := recv()
			select {
			case ch <- received[T]{m, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}
