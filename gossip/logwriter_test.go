package gossip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLogWriterLevels(t *testing.T) {
	for _, tt := range []struct {
		name, line, want string
	}{
		{"library info is debug", "2026-12-04T10:00:00Z [INFO]  raft: entering follower state", ""},
		{"a warning stays a warning", "[WARN]  raft: failed to contact quorum of nodes, stepping down", "level=WARN msg=\"raft: failed to contact quorum of nodes, stepping down\""},
		{"an error stays an error", "[ERR] memberlist: Conflicting address for vm", "level=ERROR msg=\"memberlist: Conflicting address for vm\""},
		{"a fresh server's first election is routine", "[WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr= last-leader-id=", ""},
		{"an election after a leader was known is a warning",
			"[WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr=127.0.0.1:7401 last-leader-id=s1",
			"level=WARN msg=\"raft: heartbeat timeout reached, starting election: last-leader-addr=127.0.0.1:7401 last-leader-id=s1\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := LogWriter{Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))}
			if _, err := w.Write([]byte(tt.line + "\n")); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out.String()); got != tt.want {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
		})
	}
}
