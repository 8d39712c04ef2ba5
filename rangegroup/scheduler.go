package rangegroup

import "sync"

// scheduler hands ranges that have work to a fixed pool of workers. A range
// id is queued at most once, and a range being processed is never handed to
// a second worker: work that arrives meanwhile marks it dirty, and it is
// queued again when its worker finishes. Workers take several ranges at a
// time so that their Ready output shares one batch and one sync.
type scheduler struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []uint64
	state   map[uint64]schedState
	stopped bool

	maxBatch int
	wg       sync.WaitGroup
}

type schedState uint8

const (
	schedQueued schedState = 1 + iota
	schedProcessing
	schedDirty // processing, and more work arrived
)

func newScheduler(maxBatch int) *scheduler {
	s := &scheduler{state: make(map[uint64]schedState), maxBatch: maxBatch}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// start runs n workers, each calling process with a batch of range ids.
func (s *scheduler) start(n int, process func(ids []uint64)) {
	for range n {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.work(process)
		}()
	}
}

// enqueue marks range id as having work.
func (s *scheduler) enqueue(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	switch s.state[id] {
	case 0:
		s.state[id] = schedQueued
		s.queue = append(s.queue, id)
		s.cond.Signal()
	case schedProcessing:
		s.state[id] = schedDirty
	}
}

// enqueueAll marks every id in ids as having work, taking the lock once.
func (s *scheduler) enqueueAll(ids []uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	for _, id := range ids {
		switch s.state[id] {
		case 0:
			s.state[id] = schedQueued
			s.queue = append(s.queue, id)
		case schedProcessing:
			s.state[id] = schedDirty
		}
	}
	s.cond.Broadcast()
}

func (s *scheduler) work(process func(ids []uint64)) {
	var batch []uint64
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.stopped {
			s.cond.Wait()
		}
		if s.stopped {
			s.mu.Unlock()
			return
		}
		n := min(len(s.queue), s.maxBatch)
		batch = append(batch[:0], s.queue[:n]...)
		s.queue = s.queue[n:]
		for _, id := range batch {
			s.state[id] = schedProcessing
		}
		s.mu.Unlock()

		process(batch)

		s.mu.Lock()
		requeued := false
		for _, id := range batch {
			if s.state[id] == schedDirty && !s.stopped {
				s.state[id] = schedQueued
				s.queue = append(s.queue, id)
				requeued = true
			} else {
				delete(s.state, id)
			}
		}
		if requeued {
			s.cond.Signal()
		}
		s.mu.Unlock()
	}
}

// stop makes the workers return once their current batch is done, and
// waits for them.
func (s *scheduler) stop() {
	s.mu.Lock()
	s.stopped = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
}
