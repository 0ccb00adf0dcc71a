package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/jobcluster/jobcluster/cluster"
	"github.com/jobcluster/jobcluster/gossip"
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

func defaultName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node1"
	}
	return h
}

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
	g := gossip.LANTiming
	if t.probe > 0 && t.probe != g.ProbeInterval {
		g.ProbeTimeout = t.probe / 2
		g.ProbeInterval = t.probe
	}
	return cluster.Timing{RaftHeartbeat: t.raftHeartbeat, LeaseTTL: t.leaseTTL, Gossip: g}
}

// servePprof serves /debug/pprof on addr in the background.
func servePprof(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on http address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(lis)
	return nil
}
