package concord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
)

// nextEvent waits for a watch's next event.
func nextEvent(t *testing.T, ch <-chan WatchEvent) WatchEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no watch event within 20s")
	}
	return WatchEvent{}
}

// startWatch opens a watch and waits until it is established: Watch
// returns at once and connects in the background, and a write acknowledged
// before that is not in the watch.
func startWatch(ctx context.Context, t *testing.T, n *Node, key []byte, opts ...Option) <-chan WatchEvent {
	t.Helper()
	started := make(chan struct{})
	var once sync.Once
	ch, err := n.watch(ctx, key, opts, func(uint64) { once.Do(func() { close(started) }) })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("watch not established within 30s")
	}
	return ch
}

// A watch from a node that does not lead the key's range sees every
// acknowledged write once and in order, also when the replica serving it
// crashes and the watch moves to another.
func TestWatchSurvivesTheServingReplicaCrashing(t *testing.T) {
	t.Parallel()
	c := newKVCluster(t)
	for range 3 {
		c.add()
	}
	await.Until(t, 60*time.Second, "placement", c.placementError)
	key := []byte("watched")
	nodes := c.live()
	// Watch from a node other than the key's leader, so the watch is
	// served remotely and survives the leader's crash.
	var leader string
	await.Until(t, 10*time.Second, "the key's leader", func() error {
		info, ok := nodes[0].node.store.RangeFor(nodes[0].node.position(key))
		if !ok || info.Leader == "" {
			return errors.New("no leader known")
		}
		leader = info.Leader
		return nil
	})
	var watcher, writer, victim *kvNode
	for _, n := range nodes {
		switch {
		case n.name == leader:
			victim = n
		case watcher == nil:
			watcher = n
		default:
			writer = n
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ch := startWatch(ctx, t, watcher.node, key)
	put := func(i int) {
		t.Helper()
		await.Until(t, 30*time.Second, fmt.Sprintf("put %d", i), func() error {
			_, err := writer.node.Put(ctx, key, []byte(fmt.Sprint(i)))
			return err
		})
	}
	// Each put's version is one more than the last: a gap or a repeat in
	// the events would show as a version out of step. (A put retried after
	// an unknown outcome could apply twice; versions then still step by
	// one, and values repeat.)
	var version uint64
	expect := func(i int) {
		t.Helper()
		for {
			ev := nextEvent(t, ch)
			if ev.Err != nil {
				t.Fatalf("watch ended: %v", ev.Err)
			}
			if ev.Type != EventPut || ev.Version != version+1 {
				t.Fatalf("event %+v after version %d", ev, version)
			}
			version = ev.Version
			if string(ev.Value) == fmt.Sprint(i) {
				return
			}
		}
	}
	for i := range 10 {
		put(i)
		expect(i)
	}
	c.crash(victim)
	for i := 10; i < 20; i++ {
		put(i)
		expect(i)
	}
}

// WithStartRevision replays history; a prefix watch needs a whole hash
// tag; bad options are refused; closing the node ends the watch.
func TestWatchOptionsAndEnd(t *testing.T) {
	t.Parallel()
	c := newKVCluster(t)
	n := c.add().node
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := n.Put(ctx, []byte("{acct}:a"), []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Put(ctx, []byte("{acct}:b"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := n.Delete(ctx, []byte("{acct}:a")); err != nil {
		t.Fatal(err)
	}
	ch, err := n.Watch(ctx, nil, WithPrefix([]byte("{acct}:")), WithStartRevision(first.ModRevision))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ EventType
		key string
	}{{EventPut, "{acct}:a"}, {EventPut, "{acct}:b"}, {EventDelete, "{acct}:a"}}
	for i, w := range want {
		ev := nextEvent(t, ch)
		if ev.Type != w.typ || string(ev.Key) != w.key {
			t.Fatalf("event %d = %v %q, want %v %q", i, ev.Type, ev.Key, w.typ, w.key)
		}
	}

	for _, bad := range []struct {
		name string
		key  []byte
		opts []Option
		want error
	}{
		{"prefix without a whole tag", nil, []Option{WithPrefix([]byte("acct"))}, ErrInvalidArgument},
		{"start revision 0", []byte("k"), []Option{WithStartRevision(0)}, ErrInvalidArgument},
		{"an option watches do not take", []byte("k"), []Option{WithTTL(time.Second)}, ErrInvalidArgument},
		{"empty key", nil, nil, ErrInvalidKey},
	} {
		if _, err := n.Watch(ctx, bad.key, bad.opts...); !errors.Is(err, bad.want) {
			t.Errorf("%s: err = %v, want %v", bad.name, err, bad.want)
		}
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for ev := range ch {
		if ev.Err != nil {
			if !errors.Is(ev.Err, ErrClosed) {
				t.Fatalf("watch ended with %v, want ErrClosed", ev.Err)
			}
			return
		}
	}
	t.Fatal("the watch channel closed without an ending event")
}
