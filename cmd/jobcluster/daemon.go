package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/jobcluster/jobcluster/cluster"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/metrics"
	"github.com/jobcluster/jobcluster/transport"
)

// newLogger returns the daemons' structured logger on stderr.
func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// defaultName is a server's default node name: the host's name.
func defaultName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node1"
	}
	return h
}

// defaultAgentName is an agent's default node name, "<host>-agent", so
// that a server and an agent started on one machine with default flags
// do not claim the same name.
func defaultAgentName() string { return defaultName() + "-agent" }

// timingFlags are the failure-detection knobs servers share.
type timingFlags struct {
	raftHeartbeat time.Duration
	leaseTTL      time.Duration
	probe         time.Duration
}

func (t *timingFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&t.raftHeartbeat, "raft-heartbeat-timeout", cluster.DefaultTiming.RaftHeartbeat,
		"time without a leader before a server stands for election; lower fails over faster, higher tolerates slow disks and networks")
	fs.DurationVar(&t.leaseTTL, "lease-ttl", cluster.DefaultTiming.LeaseTTL,
		"how long an agent runs pods without reaching a server; its pods are replaced elsewhere once it has expired")
	fs.DurationVar(&t.probe, "gossip-probe-interval", gossip.LANTiming.ProbeInterval,
		"how often gossip probes a member; a dead member is noticed after a few probes")
}

func (t *timingFlags) timing() cluster.Timing {
	return cluster.Timing{RaftHeartbeat: t.raftHeartbeat, LeaseTTL: t.leaseTTL, Gossip: gossipTiming(t.probe)}
}

// gossipTiming is LANTiming with the probe interval of
// --gossip-probe-interval, a probe timeout of half of it and a gossip
// round per probe.
func gossipTiming(probe time.Duration) gossip.Timing {
	g := gossip.LANTiming
	if probe > 0 && probe != g.ProbeInterval {
		g.ProbeTimeout = probe / 2
		g.GossipInterval = probe
		g.ProbeInterval = probe
	}
	return g
}

// httpStopTimeout bounds how long a stopping daemon lets HTTP requests in
// progress finish.
const httpStopTimeout = 2 * time.Second

// startHTTP binds the daemon's one HTTP listener on addr (HTTPS with
// cfg.TLS), serving the debug endpoints (/debug/pprof), /metrics from reg
// and /healthz; the daemon's other HTTP handlers (/readyz once it runs,
// /ui/) are added to it. With addr empty there is none, and it returns nil.
func startHTTP(addr string, cfg transport.Config, reg *metrics.Registry) (*transport.HTTPServer, error) {
	if addr == "" {
		return nil, nil
	}
	cfg.HTTPMiddleware = reg.HTTP().Middleware
	h, err := transport.ListenHTTP(addr, cfg)
	if err != nil {
		return nil, err
	}
	h.Handle("GET /metrics", reg.Handler())
	h.Handle("GET /healthz", metrics.HealthHandler("healthz", metrics.Ping))
	h.HandleFunc("/debug/pprof/", pprof.Index)
	h.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	h.HandleFunc("/debug/pprof/profile", pprof.Profile)
	h.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	h.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return h, nil
}

// serveReady answers /readyz on h with checks, once the daemon runs them.
func serveReady(h *transport.HTTPServer, checks ...metrics.Check) {
	if h != nil {
		h.Handle("GET /readyz", metrics.HealthHandler("readyz", checks...))
	}
}

// stopHTTP closes the daemon's HTTP listener, giving requests in progress
// httpStopTimeout to finish.
func stopHTTP(h *transport.HTTPServer, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), httpStopTimeout)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		logger.Warn("stop http server", "err", err)
	}
}
