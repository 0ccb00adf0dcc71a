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

// routine holds warnings of the libraries that are part of normal
// operation and go to Debug: a fresh server's first election (it has
// never known a leader) is how every cluster starts.
var routine = []string{
	"heartbeat timeout reached, starting election: last-leader-addr= last-leader-id=",
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
	if level == slog.LevelWarn {
		for _, r := range routine {
			if strings.HasSuffix(msg, r) {
				level = slog.LevelDebug
			}
		}
	}
	if !w.Logger.Enabled(context.Background(), level) {
		return
	}
	w.Logger.Log(context.Background(), level, msg)
}
