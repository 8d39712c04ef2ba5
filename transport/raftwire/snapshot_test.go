package raftwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/await"
)

// chunkData is the deterministic content of chunk i of a test snapshot.
func chunkData(i, size int) []byte {
	b := make([]byte, size)
	var seed [32]byte
	seed[0], seed[1] = byte(i), byte(i>>8)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return b
}

// produce yields count chunks of size bytes, reusing one buffer (allowed:
// the transport has encoded a chunk once yield returns).
func produce(count, size int) func(yield func([]byte) error) error {
	return func(yield func([]byte) error) error {
		buf := make([]byte, size)
		for i := range count {
			copy(buf, chunkData(i, size))
			if err := yield(buf); err != nil {
				return err
			}
		}
		return nil
	}
}

// verifyChunks is a snapshot handler expecting produce(count, size).
func verifyChunks(header []byte, count, size int) func(context.Context, string, []byte, func() ([]byte, error)) error {
	return func(_ context.Context, from string, h []byte, next func() ([]byte, error)) error {
		if from != "a" || !bytes.Equal(h, header) {
			return fmt.Errorf("from %q header %q", from, h)
		}
		for i := 0; ; i++ {
			chunk, err := next()
			if err == io.EOF {
				if i != count {
					return fmt.Errorf("%d chunks, want %d", i, count)
				}
				return nil
			}
			if err != nil {
				return err
			}
			if i >= count || !bytes.Equal(chunk, chunkData(i, size)) {
				return fmt.Errorf("chunk %d (%d bytes) differs", i, len(chunk))
			}
		}
	}
}

// A 20 MiB snapshot in 64 KiB chunks arrives intact, chunk by chunk.
func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	const count, size = 320, 64 << 10
	c := newCluster(t)
	a := c.add("a", "127.5.0.1", func(cfg *Config) { cfg.SnapshotRate = -1 })
	b := c.add("b", "127.5.0.2", nil)
	header := []byte("range 7 at index 1234")
	b.rec.setSnapshot(verifyChunks(header, count, size))
	if err := a.tr.SendSnapshot(testCtx(t, eventually), "b", header, produce(count, size)); err != nil {
		t.Fatal(err)
	}
	sa, sb := a.tr.Stats(), b.tr.Stats()
	if sa.SnapshotsSent != 1 || sa.SnapshotBytesSent != count*size {
		t.Errorf("sender: %d sent, %d bytes", sa.SnapshotsSent, sa.SnapshotBytesSent)
	}
	if sb.SnapshotsReceived != 1 || sb.SnapshotBytesReceived != count*size {
		t.Errorf("receiver: %d received, %d bytes", sb.SnapshotsReceived, sb.SnapshotBytesReceived)
	}
}

// Chunks larger than a stream message, and empty ones, reach the
// receiver exactly as yielded.
func TestSnapshotChunkBoundaries(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.5.1.1", func(cfg *Config) { cfg.MaxBatchBytes = 64 << 10 })
	b := c.add("b", "127.5.1.2", nil)
	sizes := []int{3 << 20, 0, 1, 64 << 10, 200 << 10, 0}
	b.rec.setSnapshot(func(_ context.Context, _ string, _ []byte, next func() ([]byte, error)) error {
		for i := 0; ; i++ {
			chunk, err := next()
			if err == io.EOF {
				if i != len(sizes) {
					return fmt.Errorf("%d chunks, want %d", i, len(sizes))
				}
				return nil
			}
			if err != nil {
				return err
			}
			if i >= len(sizes) || !bytes.Equal(chunk, chunkData(i, sizes[i])) {
				return fmt.Errorf("chunk %d (%d bytes) differs", i, len(chunk))
			}
		}
	})
	err := a.tr.SendSnapshot(testCtx(t, eventually), "b", nil, func(yield func([]byte) error) error {
		for i, size := range sizes {
			if err := yield(chunkData(i, size)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The receiver's error reaches the sender, whether the receiver read
// everything first or gave up early; a producer's error is returned as is.
func TestSnapshotErrorsReachTheSender(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.5.2.1", nil)
	b := c.add("b", "127.5.2.2", nil)
	ctx := testCtx(t, eventually)

	b.rec.setSnapshot(func(_ context.Context, _ string, _ []byte, next func() ([]byte, error)) error {
		for {
			if _, err := next(); err == io.EOF {
				return errors.New("disk full")
			} else if err != nil {
				return err
			}
		}
	})
	err := a.tr.SendSnapshot(ctx, "b", nil, produce(10, 1000))
	if !errors.Is(err, ErrSnapshotRejected) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("after reading all: %v, want ErrSnapshotRejected with the receiver's message", err)
	}

	// Refused at once, while the sender still has much to send.
	b.rec.setSnapshot(func(context.Context, string, []byte, func() ([]byte, error)) error {
		return errors.New("no room for range 7")
	})
	err = a.tr.SendSnapshot(ctx, "b", nil, produce(1000, 64<<10))
	if !errors.Is(err, ErrSnapshotRejected) || !strings.Contains(err.Error(), "no room for range 7") {
		t.Fatalf("refused early: %v, want ErrSnapshotRejected with the receiver's message", err)
	}

	boom := errors.New("pebble read failed")
	b.rec.setSnapshot(nil)
	err = a.tr.SendSnapshot(ctx, "b", nil, func(yield func([]byte) error) error {
		if err := yield([]byte("x")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || errors.Is(err, ErrSnapshotRejected) {
		t.Fatalf("producer failure: %v, want %v", err, boom)
	}
	if err := a.tr.SendSnapshot(ctx, "nobody", nil, produce(1, 1)); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("unknown node: %v, want ErrUnknownNode", err)
	}
	if err := a.tr.SendSnapshot(ctx, "b", make([]byte, DefaultMaxBatchBytes), produce(1, 1)); err == nil {
		t.Fatal("a header larger than a stream message was accepted")
	}
	if st := a.tr.Stats(); st.SnapshotsFailed != 5 || st.SnapshotsSent != 0 {
		t.Errorf("%d failed, %d sent; want 5, 0", st.SnapshotsFailed, st.SnapshotsSent)
	}
}

// With MaxConcurrentSnapshots 2, a third snapshot waits while two are in
// progress and starts as soon as one of them ends.
func TestSnapshotConcurrencyCap(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.5.3.1", func(cfg *Config) { cfg.MaxConcurrentSnapshots = 2 })
	b := c.add("b", "127.5.3.2", nil)
	started := make(chan string, 3)
	release := make(chan struct{})
	b.rec.setSnapshot(func(ctx context.Context, _ string, header []byte, next func() ([]byte, error)) error {
		started <- string(header)
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		for {
			if _, err := next(); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	})
	ctx := testCtx(t, eventually)
	errs := make(chan error, 3)
	for i := range 3 {
		go func() { errs <- a.tr.SendSnapshot(ctx, "b", []byte{byte('0' + i)}, produce(4, 1000)) }()
	}
	first := map[string]bool{<-started: true, <-started: true}
	await.Until(t, eventually, "two in flight, one waiting", func() error {
		if st := a.tr.Stats(); st.SnapshotsInFlight != 2 || st.SnapshotsWaiting != 1 {
			return fmt.Errorf("%d in flight, %d waiting", st.SnapshotsInFlight, st.SnapshotsWaiting)
		}
		return nil
	})
	select {
	case h := <-started:
		t.Fatalf("snapshot %s started while two were in progress", h)
	default:
	}
	release <- struct{}{}
	third := <-started
	if first[third] {
		t.Fatalf("snapshot %s started twice", third)
	}
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := a.tr.Stats(); st.SnapshotsSent != 3 || st.SnapshotsInFlight != 0 || st.SnapshotsWaiting != 0 {
		t.Errorf("%d sent, %d in flight, %d waiting; want 3, 0, 0", st.SnapshotsSent, st.SnapshotsInFlight, st.SnapshotsWaiting)
	}
}

// A snapshot whose receiver stops reading (the link is cut) fails with
// ErrStalled instead of hanging until its context ends.
func TestSnapshotStallFails(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.5.4.1", func(cfg *Config) {
		cfg.SnapshotRate = -1
		cfg.SnapshotStallTimeout = 200 * time.Millisecond
	})
	b := c.add("b", "127.5.4.2", nil)
	opened := make(chan struct{})
	b.rec.setSnapshot(func(ctx context.Context, _ string, _ []byte, next func() ([]byte, error)) error {
		close(opened)
		<-ctx.Done() // reads nothing: only Close or the sender's end stops it
		return ctx.Err()
	})
	cut := false
	err := a.tr.SendSnapshot(testCtx(t, eventually), "b", nil, func(yield func([]byte) error) error {
		chunk := make([]byte, 64<<10)
		for {
			if !cut {
				<-opened
				c.net.Cut(a.ip, b.ip)
				cut = true
			}
			if err := yield(chunk); err != nil {
				return err
			}
		}
	})
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("got %v, want ErrStalled", err)
	}
}

// Close fails snapshots waiting for a slot or in progress with ErrClosed.
func TestSnapshotCloseFailsTransfers(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.add("a", "127.5.5.1", func(cfg *Config) { cfg.MaxConcurrentSnapshots = 1 })
	b := c.add("b", "127.5.5.2", nil)
	opened := make(chan struct{}, 2)
	b.rec.setSnapshot(func(ctx context.Context, _ string, _ []byte, next func() ([]byte, error)) error {
		opened <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	ctx := testCtx(t, eventually)
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- a.tr.SendSnapshot(ctx, "b", nil, produce(1, 10)) }()
	}
	<-opened
	await.Until(t, eventually, "one waiting", func() error {
		if st := a.tr.Stats(); st.SnapshotsWaiting != 1 {
			return fmt.Errorf("%d waiting", st.SnapshotsWaiting)
		}
		return nil
	})
	a.stop()
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Errorf("got %v, want ErrClosed", err)
		}
	}
	if err := a.tr.SendSnapshot(ctx, "b", nil, produce(1, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
