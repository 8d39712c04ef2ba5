package storage

import (
	"context"
	"fmt"
	"log/slog"
)

// pebbleLogger routes Pebble's printf-style logging into slog. Pebble's
// informational chatter (WAL recovery, format upgrades) goes to Debug so a
// healthy node is quiet at the default level; its errors stay errors.
type pebbleLogger struct {
	l *slog.Logger
}

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf must not return: Pebble calls it when continuing would corrupt
// data. Panicking (rather than os.Exit) lets tests and the daemon's
// top-level recovery see the message.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble", "fatal", true)
	panic("pebble: " + msg)
}
