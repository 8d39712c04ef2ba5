package kvsim

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/concord-kv/concord/rangegroup/kv"
)

// Op is the operation the clients run.
type Op string

// The operations. Writes, strong reads and leader reads go to the range's
// leader; eventual reads go to a random replica of the range.
const (
	OpWrite    Op = "write"    // put a value of ValueSize bytes
	OpStrong   Op = "strong"   // get at the Strong level
	OpLeader   Op = "leader"   // get at the Leader level
	OpEventual Op = "eventual" // get at the Eventual level
	// OpMixed runs writes for WritePercent of the operations and leader
	// reads (the default consistency level) for the rest.
	OpMixed Op = "mixed"
)

// ErrInvalidConfig is returned by Run for a configuration it cannot run.
var ErrInvalidConfig = errors.New("kvsim: invalid config")

// Config describes one load run. Zero fields take the defaults noted.
type Config struct {
	// Nodes is the number of Stores (default 3).
	Nodes int
	// Replicas is the number of voters of each range (default and at most
	// Nodes, at most 3 by default).
	Replicas int
	// Ranges is the number of ranges; they tile the ring in equal arcs
	// (default 1: one range over the whole circle).
	Ranges int
	// Clients is the number of concurrent clients, each with one operation
	// in flight at a time (default 64).
	Clients int
	// Op is what the clients do (default OpWrite).
	Op Op
	// WritePercent is the share of writes under OpMixed (default 50).
	WritePercent int
	// Duration is how long the load runs (default 10 s).
	Duration time.Duration
	// ValueSize is the size of written values in bytes (default 100).
	ValueSize int
	// Keys is the size of the key space; clients pick keys uniformly
	// (default 10000). Reads run against keys written before the load.
	Keys int
	// Baseline also measures the raw Pebble synced-batch loop, with
	// Clients writers for Duration, before the cluster starts.
	Baseline bool
	// TCP connects the nodes over loopback TCP instead of the in-memory
	// network.
	TCP bool
	// Dir is where the temporary data directory is created (default
	// os.TempDir()).
	Dir string
	// OpTimeout bounds one operation (default 5 s).
	OpTimeout time.Duration
	// Seed seeds the clients' key choices (default 1).
	Seed uint64
	// Progress, if set, receives a line every second while load runs.
	Progress io.Writer
}

// withDefaults fills in zero fields and checks the result.
func (c Config) withDefaults() (Config, error) {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Replicas == 0 {
		c.Replicas = min(3, c.Nodes)
	}
	if c.Ranges == 0 {
		c.Ranges = 1
	}
	if c.Clients == 0 {
		c.Clients = 64
	}
	if c.Op == "" {
		c.Op = OpWrite
	}
	if c.WritePercent == 0 && c.Op == OpMixed {
		c.WritePercent = 50
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.ValueSize == 0 {
		c.ValueSize = 100
	}
	if c.Keys == 0 {
		c.Keys = 10000
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 5 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	var problem string
	switch {
	case c.Nodes < 1:
		problem = fmt.Sprintf("nodes %d: need at least 1", c.Nodes)
	case c.Replicas < 1 || c.Replicas > c.Nodes:
		problem = fmt.Sprintf("replicas %d: need 1..nodes (%d)", c.Replicas, c.Nodes)
	case c.Ranges < 1:
		problem = fmt.Sprintf("ranges %d: need at least 1", c.Ranges)
	case c.Clients < 1:
		problem = fmt.Sprintf("clients %d: need at least 1", c.Clients)
	case !c.Op.valid():
		problem = fmt.Sprintf("op %q: want write, strong, leader, eventual or mixed", c.Op)
	case c.WritePercent < 0 || c.WritePercent > 100:
		problem = fmt.Sprintf("write percent %d: need 0..100", c.WritePercent)
	case c.Duration < 0:
		problem = fmt.Sprintf("duration %v: must not be negative", c.Duration)
	case c.ValueSize < 0 || c.ValueSize > kv.DefaultMaxValueSize:
		problem = fmt.Sprintf("value size %d: need 0..%d", c.ValueSize, kv.DefaultMaxValueSize)
	case c.Keys < 1:
		problem = fmt.Sprintf("keys %d: need at least 1", c.Keys)
	case c.OpTimeout < 0:
		problem = fmt.Sprintf("op timeout %v: must not be negative", c.OpTimeout)
	}
	if problem != "" {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, problem)
	}
	return c, nil
}

func (o Op) valid() bool {
	switch o {
	case OpWrite, OpStrong, OpLeader, OpEventual, OpMixed:
		return true
	}
	return false
}

// readsPreloaded reports whether the run reads, so that the key space must
// be written before the load starts.
func (c Config) readsPreloaded() bool {
	return c.Op != OpWrite && !(c.Op == OpMixed && c.WritePercent == 100)
}
