package raftwire

// Send queues msgs for node to and returns at once: it never blocks on the
// network. A per-peer sender goroutine, started lazily, drains the queue.
// Messages that do not fit in the peer's queue (Config.QueueLen) are
// dropped and counted, and OnUnreachable is called soon after, from the
// sender goroutine; raft retransmits what matters. Messages with a nil Msg
// are dropped as invalid. After Close, everything is dropped.
//
// Send takes ownership of the messages: the caller must not modify them
// afterwards (they are encoded later, on the sender goroutine).
func (t *Transport) Send(to string, msgs ...Message) {
	if len(msgs) == 0 {
		return
	}
	t.mu.RLock()
	if p := t.peers[to]; p != nil && !t.closed {
		p.enqueue(msgs)
		t.mu.RUnlock()
		return
	}
	t.mu.RUnlock()

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		t.stats.droppedClosed.Add(uint64(len(msgs)))
		return
	}
	p := t.peers[to]
	if p == nil {
		p = newPeer(t, to)
		t.peers[to] = p
		t.wg.Add(1)
		go p.run()
	}
	p.enqueue(msgs)
}

// enqueue appends what fits of msgs to the queue and wakes the sender.
// The caller holds t.mu (read or write), which keeps the peer registered.
func (p *peer) enqueue(msgs []Message) {
	var full, invalid uint64
	p.mu.Lock()
	for _, m := range msgs {
		switch {
		case m.Msg == nil:
			invalid++
		case len(p.queue) >= p.t.cfg.QueueLen:
			full++
		default:
			p.queue = append(p.queue, m)
		}
	}
	if full > 0 {
		p.overflow = true
	}
	p.mu.Unlock()
	if full > 0 {
		p.t.stats.droppedQueueFull.Add(full)
	}
	if invalid > 0 {
		p.t.stats.droppedInvalid.Add(invalid)
	}
	select {
	case p.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// take removes and returns everything queued. The returned slice goes
// back through recycle once sent, so a busy peer reuses two buffers.
func (p *peer) take() []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	msgs := p.queue
	p.queue = p.spare[:0]
	p.spare = nil
	return msgs
}

// recycle returns a taken slice for reuse, dropping its references so the
// sent messages can be collected.
func (p *peer) recycle(msgs []Message) {
	clear(msgs)
	p.mu.Lock()
	if p.spare == nil && cap(msgs) <= 2*p.t.cfg.QueueLen {
		p.spare = msgs[:0]
	}
	p.mu.Unlock()
}

// reportOverflow calls OnUnreachable if the queue overflowed since the
// last report: the messages lost there need raft to probe the peer again.
func (p *peer) reportOverflow() {
	p.mu.Lock()
	overflow := p.overflow
	p.overflow = false
	p.mu.Unlock()
	if overflow {
		p.t.cfg.OnUnreachable(p.node)
	}
}
