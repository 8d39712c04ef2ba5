package ring

import "sync"

// rangeEvents delivers range changes to the application's callback.
//
// Invariants: events are delivered in the order they were queued, by one
// goroutine, never concurrently, and never while the Node's mutex is held
// (push is called under the mutex, but only appends to a queue). Queueing
// never blocks, so a slow callback cannot stall the protocol.
type rangeEvents struct {
	fn func(Range)

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []Range
	closed  bool
	running bool // a callback is executing right now
	done    chan struct{}
}

func newRangeEvents(fn func(Range)) *rangeEvents {
	e := &rangeEvents{fn: fn, done: make(chan struct{})}
	e.cond = sync.NewCond(&e.mu)
	go e.loop()
	return e
}

func (e *rangeEvents) push(r Range) {
	if e.fn == nil {
		return
	}
	e.mu.Lock()
	if !e.closed {
		e.queue = append(e.queue, r)
		e.cond.Signal()
	}
	e.mu.Unlock()
}

func (e *rangeEvents) loop() {
	defer close(e.done)
	e.mu.Lock()
	for {
		for len(e.queue) == 0 && !e.closed {
			e.cond.Wait()
		}
		if e.closed {
			e.mu.Unlock()
			return
		}
		r := e.queue[0]
		e.queue = e.queue[1:]
		e.running = true
		e.mu.Unlock()
		e.fn(r)
		e.mu.Lock()
		e.running = false
	}
}

// close stops delivery: queued but undelivered events are dropped. It waits
// for the delivery goroutine unless a callback is running, because that
// callback may be the caller (a callback is allowed to call Node.Stop).
func (e *rangeEvents) close() {
	e.mu.Lock()
	e.closed = true
	e.cond.Signal()
	running := e.running
	e.mu.Unlock()
	if !running {
		<-e.done
	}
}
