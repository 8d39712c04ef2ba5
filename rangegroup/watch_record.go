package rangegroup

import (
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage"
)

// changeRecorder passes the state machine's writes to the apply batch and
// notes which user keys they change, as watch events. The state machine
// writes a key only when a command changes it, and never within an
// aborted command, so every write noted is a change.
type changeRecorder struct {
	kv.Store
	rev     uint64
	expired bool
	events  []Event
	// pending are the writes in order; records are decoded in finish, off
	// the state machine's path.
	pending []pendingChange
}

type pendingChange struct {
	key, value []byte // value nil for a delete
}

func (c *changeRecorder) Set(k, v []byte) error {
	if err := c.Store.Set(k, v); err != nil {
		return err
	}
	c.pending = append(c.pending, pendingChange{key: k, value: v})
	return nil
}

func (c *changeRecorder) Delete(k []byte) error {
	if err := c.Store.Delete(k); err != nil {
		return err
	}
	c.pending = append(c.pending, pendingChange{key: k})
	return nil
}

// finish turns the noted writes into events appended to those the
// recorder started with.
func (c *changeRecorder) finish() ([]Event, error) {
	for _, p := range c.pending {
		_, key, ok := storage.DecodeUserKey(p.key)
		if !ok {
			return nil, fmt.Errorf("state machine wrote a non-user key %x", p.key)
		}
		ev := Event{Key: key, Revision: c.rev, Expired: c.expired && p.value == nil}
		if p.value != nil {
			rec, err := kv.DecodeRecord(p.value)
			if err != nil {
				return nil, fmt.Errorf("state machine wrote an undecodable record for %q: %w", key, err)
			}
			ev.Record = &rec
		}
		c.events = append(c.events, ev)
	}
	return c.events, nil
}
