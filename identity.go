package concord

import (
	"encoding/binary"
	"fmt"

	"github.com/concord-kv/concord/storage"
)

// identity is what a node keeps in its data directory so that a restart
// comes back as the same member: the same name, and the same ring id even
// if the hash settings it was derived with change.
type identity struct {
	Name   string
	RingID *uint64
}

var (
	keyNodeName = storage.NodeKey("node.name")
	keyRingID   = storage.NodeKey("node.ring_id")
)

func loadIdentity(e *storage.Engine) (identity, error) {
	var id identity
	name, ok, err := e.Get(keyNodeName)
	if err != nil {
		return id, fmt.Errorf("concord: read node identity: %w", err)
	}
	if ok {
		id.Name = string(name)
	}
	rid, ok, err := e.Get(keyRingID)
	if err != nil {
		return id, fmt.Errorf("concord: read node identity: %w", err)
	}
	if ok {
		if len(rid) != 8 {
			return id, fmt.Errorf("concord: corrupt ring id in data directory (%d bytes)", len(rid))
		}
		v := binary.BigEndian.Uint64(rid)
		id.RingID = &v
	}
	return id, nil
}

// saveIdentity persists id, synced: the first range is created only after
// the identity that names its replica is durable.
func saveIdentity(e *storage.Engine, id identity) error {
	b := e.NewBatch()
	defer b.Close()
	if err := b.Set(keyNodeName, []byte(id.Name)); err != nil {
		return err
	}
	if id.RingID != nil {
		if err := b.Set(keyRingID, binary.BigEndian.AppendUint64(nil, *id.RingID)); err != nil {
			return err
		}
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("concord: save node identity: %w", err)
	}
	return nil
}
