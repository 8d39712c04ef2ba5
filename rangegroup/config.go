package rangegroup

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-kv/concord/rangegroup/kv"
	"github.com/concord-kv/concord/storage"
	"github.com/concord-kv/concord/transport/raftwire"
)

// Transport carries Raft messages and snapshots to other nodes. The
// raftwire package implements it; the Store implements raftwire.Handler for
// the other direction.
type Transport interface {
	Send(to string, msgs ...raftwire.Message)
	SendSnapshot(ctx context.Context, to string, header []byte, chunks func(yield func(chunk []byte) error) error) error
}

// Config configures a Store.
type Config struct {
	// NodeName is this node's name, as it appears in range descriptors.
	NodeName string
	// Engine is the node's storage engine. The Store does not close it.
	Engine *storage.Engine
	// Transport sends to other nodes. Required unless every range has a
	// single replica.
	Transport Transport
	// Machine is the key-value state machine (limits and key positions).
	Machine *kv.Machine
	// Now is the clock leaders stamp commands with (default time.Now).
	Now func() time.Time
	// TickInterval is the Raft tick (default 100 ms).
	TickInterval time.Duration
	// ElectionTicks is the election timeout in ticks (default 5: with the
	// default tick a follower campaigns 0.5–1 s after it last heard its
	// leader, so a range elects a new leader within about a second of a
	// crash); the heartbeat is one tick.
	ElectionTicks int
	// Workers is the number of scheduler workers (default 2·GOMAXPROCS).
	Workers int
	// RaftLogKeep is how many applied entries a range keeps behind the
	// slowest follower before truncating (default 1000); a follower further
	// behind catches up by snapshot.
	RaftLogKeep uint64
	// SnapshotChunkSize is the target size of one snapshot chunk (default
	// 256 KiB).
	SnapshotChunkSize int
	// SweepInterval is how often a leader looks for expired keys to delete
	// (default 5 s). Expired keys are invisible to reads at once.
	SweepInterval time.Duration
	// WatchHistoryEvents and WatchHistoryBytes bound the history of
	// recent changes the Store keeps, over all its replicas, for watches
	// to replay and resume from (defaults 100,000 events and 64 MiB).
	WatchHistoryEvents int
	WatchHistoryBytes  int
	// Registerer, if set, registers the Store's Prometheus metrics.
	Registerer prometheus.Registerer
	// Logger receives the Store's logs (default: discard).
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.NodeName == "" {
		return c, errors.New("rangegroup: Config.NodeName is required")
	}
	if c.Engine == nil {
		return c, errors.New("rangegroup: Config.Engine is required")
	}
	if c.Machine == nil {
		return c, errors.New("rangegroup: Config.Machine is required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TickInterval <= 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks <= 1 {
		c.ElectionTicks = 5
	}
	if c.Workers <= 0 {
		c.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if c.RaftLogKeep == 0 {
		c.RaftLogKeep = 1000
	}
	if c.SnapshotChunkSize <= 0 {
		c.SnapshotChunkSize = 256 << 10
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 5 * time.Second
	}
	if c.WatchHistoryEvents <= 0 {
		c.WatchHistoryEvents = 100_000
	}
	if c.WatchHistoryBytes <= 0 {
		c.WatchHistoryBytes = 64 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// electionTimeout is the wall-clock length of an election timeout.
func (c Config) electionTimeout() time.Duration {
	return time.Duration(c.ElectionTicks) * c.TickInterval
}
