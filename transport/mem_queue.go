package transport

import (
	"sync"
	"time"
)

// blockSize is the size of the pooled buffers that carry undelayed stream
// bytes. Buffers go back to the pool as soon as they are read, so idle
// connections hold no buffer memory.
const blockSize = 16 << 10

var blockPool = sync.Pool{New: func() any { return new([blockSize]byte) }}

// chunk is a run of bytes that become readable at the same instant.
type chunk struct {
	at     time.Time // delivery time; zero means "as soon as written"
	buf    []byte    // written bytes; spare capacity takes later writes
	off    int       // bytes of buf already read
	pooled bool      // buf is a blockPool block
}

// byteQueue is a FIFO of bytes, each with a delivery time, in write order.
// It is not safe for concurrent use (pipe guards it).
//
// Undelayed bytes are packed into pooled blocks, so a stream of small writes
// costs one copy each and no allocation. Delayed writes get their own exactly
// sized chunk, because each carries its own delivery time.
type byteQueue struct {
	q []chunk
	n int // unread bytes
}

// push appends b to be delivered at at. If the tail is due later than at
// (the delay shrank), b inherits the tail's time, so order is preserved.
func (bq *byteQueue) push(at time.Time, b []byte) {
	bq.n += len(b)
	if k := len(bq.q); k > 0 {
		tail := &bq.q[k-1]
		if !tail.at.Before(at) {
			at = tail.at
			m := copy(tail.buf[len(tail.buf):cap(tail.buf)], b)
			tail.buf = tail.buf[:len(tail.buf)+m]
			b = b[m:]
		}
	}
	if len(b) == 0 {
		return
	}
	if !at.IsZero() {
		bq.q = append(bq.q, chunk{at: at, buf: append([]byte(nil), b...)})
		return
	}
	for len(b) > 0 {
		block := blockPool.Get().(*[blockSize]byte)
		m := copy(block[:], b)
		bq.q = append(bq.q, chunk{buf: block[:m], pooled: true})
		b = b[m:]
	}
}

// pop copies due bytes into b. If none are due although the queue is not
// empty, it returns how long until the head is.
func (bq *byteQueue) pop(b []byte) (n int, wait time.Duration) {
	var now time.Time
	for n < len(b) && len(bq.q) > 0 {
		c := &bq.q[0]
		if !c.at.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			if now.Before(c.at) {
				if n == 0 {
					wait = c.at.Sub(now)
				}
				break
			}
		}
		k := copy(b[n:], c.buf[c.off:])
		n += k
		c.off += k
		if c.off == len(c.buf) {
			bq.dropHead()
		}
	}
	bq.n -= n
	return n, wait
}

// dropHead removes the head chunk, recycling its block.
func (bq *byteQueue) dropHead() {
	c := &bq.q[0]
	if c.pooled {
		blockPool.Put((*[blockSize]byte)(c.buf[:blockSize]))
	}
	bq.q[0] = chunk{}
	if len(bq.q) == 1 {
		bq.q = bq.q[:0] // keep the backing array for the next write
	} else {
		bq.q = bq.q[1:]
	}
}

// reset discards everything, recycling blocks.
func (bq *byteQueue) reset() {
	for len(bq.q) > 0 {
		bq.dropHead()
	}
	bq.q, bq.n = nil, 0
}
