package membership

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// slogWriter routes memberlist's *log.Logger output to slog at debug level.
// memberlist logs routine protocol noise (failed probes during a partition,
// refutations) at its own "[ERR]"/"[WARN]" levels; Concord reports what
// matters through events, so all of it is debug detail here.
type slogWriter struct {
	logger *slog.Logger
}

// Write logs one memberlist line; it never fails, as memberlist ignores
// logging errors anyway.
func (w slogWriter) Write(p []byte) (int, error) {
	if w.logger.Enabled(context.Background(), slog.LevelDebug) {
		w.logger.Debug(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// memberlistLogger returns the *log.Logger handed to memberlist.
func memberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{logger: l}, "", 0)
}
