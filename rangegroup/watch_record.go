package rangegroup

import (
	"fmt"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage"
)

// change is one key change as the apply path notes it: the record stays
// encoded, and is decoded only for a watcher that wants it, so applying a
// write costs no decoding when nobody watches.
type change struct {
	key []byte
	// record is the key's new record, encoded; nil when it was deleted.
	record  []byte
	rev     uint64
	expired bool
}

// event decodes the change for a watcher.
func (c *change) event() (Event, error) {
	ev := Event{Key: c.key, Revision: c.rev, Expired: c.expired}
	if c.record != nil {
		rec, err := kv.DecodeRecord(c.record)
		if err != nil {
			return Event{}, fmt.Errorf("watch: record of %q at revision %d: %w", c.key, c.rev, err)
		}
		ev.Record = &rec
	}
	return ev, nil
}

// size is what the change counts against the watch history's byte budget.
func (c *change) size() int { return len(c.key) + len(c.record) + 64 }

// changeRecorder passes the state machine's writes to the apply batch and
// notes which user keys they change. The state machine writes a key only
// when a command changes it, and never within an aborted command, so every
// write noted is a change.
type changeRecorder struct {
	kv.Store
	rev     uint64
	expired bool
	changes []change
}

func (c *changeRecorder) Set(k, v []byte) error {
	return c.note(k, v, c.Store.Set(k, v))
}

func (c *changeRecorder) Delete(k []byte) error {
	return c.note(k, nil, c.Store.Delete(k))
}

// note records a write that err says succeeded. The state machine never
// modifies a slice it passed to Set, so v is kept as it is.
func (c *changeRecorder) note(k, v []byte, err error) error {
	if err != nil {
		return err
	}
	_, key, ok := storage.DecodeUserKey(k)
	if !ok {
		return fmt.Errorf("state machine wrote a non-user key %x", k)
	}
	c.changes = append(c.changes, change{key: key, record: v, rev: c.rev, expired: c.expired && v == nil})
	return nil
}
