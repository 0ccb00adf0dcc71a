package gossip

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
)

// LogWriter adapts the line-oriented loggers of hashicorp libraries
// (memberlist's log.Logger, raft's hclog) to slog. Each line's "[LEVEL]"
// tag picks the slog level; the rest becomes the message. The libraries'
// INFO lines (elections, state changes) are routine and go to Debug, so
// daemons stay quiet by default; warnings and errors keep their level.
type LogWriter struct {
	Logger *slog.Logger
}

// Write logs one or more lines. It never fails.
func (w LogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		w.logLine(string(line))
	}
	return len(p), nil
}

func (w LogWriter) logLine(line string) {
	level := slog.LevelInfo
	msg := line
	for tag, l := range map[string]slog.Level{
		"[TRACE]": slog.LevelDebug - 4,
		"[DEBUG]": slog.LevelDebug,
		"[INFO]":  slog.LevelDebug,
		"[WARN]":  slog.LevelWarn,
		"[ERR]":   slog.LevelError,
		"[ERROR]": slog.LevelError,
	} {
		if i := strings.Index(line, tag); i >= 0 {
			level = l
			msg = strings.TrimSpace(line[i+len(tag):])
			break
		}
	}
	if !w.Logger.Enabled(context.Background(), level) {
		return
	}
	w.Logger.Log(context.Background(), level, msg)
}
