package rangegroup

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/transport/raftwire"
)

func TestExpiredKeysAreHiddenAndSwept(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.SweepInterval = 50 * time.Millisecond })
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	put := c.write(1, &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte("short"), Value: []byte("v"), Ttl: int64(200 * time.Millisecond)}}})
	c.put(1, "long", "v")
	resp, err := c.leader(1).get(1, Strong, "short")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := valueOf(resp); err != nil {
		t.Fatalf("key read before it expires: %v", err)
	}
	// Once expired, the key is gone from every replica's storage (the
	// leader proposed its deletion through the log) and no read sees it.
	for _, nd := range c.nodes {
		await.Until(t, 10*time.Second, "expired key swept at "+nd.name, func() error {
			resp, err := nd.get(1, Eventual, "short")
			if err != nil {
				return err
			}
			if resp.Code != kvpb.ErrorCode_NOT_FOUND {
				return fmt.Errorf("read: %v", resp.Code)
			}
			// Absent because swept, not because the put is not applied yet.
			if info, err := nd.currentStore().Range(1); err != nil || info.AppliedIndex < put.Revision {
				return fmt.Errorf("put not applied yet: %v", err)
			}
			_, ok, err := nd.engine.Get(storage.UserKey(testPosition([]byte("short")), []byte("short")))
			if err != nil {
				return err
			}
			if ok {
				return errors.New("still stored")
			}
			return nil
		})
	}
	c.checkValues(c.nodes[0], 1, map[string]string{"long": "v"})
}

// A message for an unknown range creates an uninitialized replica; if it
// never receives a snapshot it is collected.
func TestUninitializedReplicaIsCollected(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 1, func(cfg *Config) { cfg.TickInterval = 5 * time.Millisecond })
	st := c.nodes[0].currentStore()
	hb := &raftpb.Message{Type: raftpb.MessageType_MsgHeartbeat.Enum(), From: proto.Uint64(7), To: proto.Uint64(3), Term: proto.Uint64(9)}
	st.HandleMessages("elsewhere", []raftwire.Message{{RangeID: 99, Msg: hb}})
	info, err := st.Range(99)
	if err != nil {
		t.Fatalf("no uninitialized replica after a heartbeat: %v", err)
	}
	if info.Descriptor != nil || info.ReplicaID != 3 {
		t.Fatalf("replica of range 99: %+v", info)
	}
	// A vote request must not create one.
	vote := &raftpb.Message{Type: raftpb.MessageType_MsgVote.Enum(), From: proto.Uint64(7), To: proto.Uint64(3), Term: proto.Uint64(9)}
	st.HandleMessages("elsewhere", []raftwire.Message{{RangeID: 98, Msg: vote}})
	if _, err := st.Range(98); !errors.Is(err, ErrRangeNotFound) {
		t.Fatalf("a vote request created range 98: %v", err)
	}
	await.Until(t, 20*time.Second, "uninitialized replica collected", func() error {
		if _, err := st.Range(99); !errors.Is(err, ErrRangeNotFound) {
			return fmt.Errorf("range 99 still present: %v", err)
		}
		return nil
	})
}

// Followers whose wall clocks are an hour off either way judge expiry by
// the leader's clock carried in the log, so every replica hides a key at
// the same moment of the leader's time and the state machine deletes it
// at the same log index everywhere.
func TestTTLIgnoresSkewedFollowerClocks(t *testing.T) {
	t.Parallel()
	skew := map[string]time.Duration{"n2": time.Hour, "n3": -time.Hour}
	c := newTestCluster(t, 3, func(cfg *Config) {
		d := skew[cfg.NodeName]
		cfg.Now = func() time.Time { return time.Now().Add(d) }
		cfg.SweepInterval = 50 * time.Millisecond
	})
	c.createRange(1, 0, 0, "n1", "n2", "n3")
	// Keep the unskewed node as leader so the stamps are true time.
	await.Until(t, 20*time.Second, "n1 leads", func() error {
		ld := c.leader(1)
		if ld.name == "n1" {
			return nil
		}
		return ld.currentStore().TransferLeadership(t.Context(), 1, "n1")
	})
	ttl := 2 * time.Second
	written := time.Now()
	c.write(1, &kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte("k"), Value: []byte("v"), Ttl: int64(ttl)}}})
	// Every replica has the key before it expires (n2's clock says an
	// hour has passed; it must not matter).
	for _, nd := range c.nodes {
		await.Until(t, 10*time.Second, "replica has the key", func() error {
			resp, err := nd.get(1, Eventual, "k")
			if err != nil {
				return err
			}
			if resp.Code != kvpb.ErrorCode_OK && time.Since(written) < ttl {
				return fmt.Errorf("%s: %v", nd.name, resp.Code)
			}
			return nil
		})
	}
	// After it expires, every replica hides it, and the sweep deletes it
	// from each replica's storage through the log.
	for _, nd := range c.nodes {
		await.Until(t, 10*time.Second, "replica hides and sweeps the key", func() error {
			resp, err := nd.get(1, Eventual, "k")
			if err != nil {
				return err
			}
			if resp.Code != kvpb.ErrorCode_NOT_FOUND {
				return fmt.Errorf("%s: %v", nd.name, resp.Code)
			}
			_, ok, err := nd.engine.Get(storage.UserKey(testPosition([]byte("k")), []byte("k")))
			if err != nil || ok {
				return fmt.Errorf("%s: still stored (%v)", nd.name, err)
			}
			return nil
		})
		if time.Since(written) < ttl {
			t.Fatalf("%s hid the key %v after the write, before its %v TTL", nd.name, time.Since(written), ttl)
		}
	}
}
