package main

import (
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/metrics"
	"github.com/jobcluster/jobcluster/transport"
)

func TestDaemonHTTPServesDebugMetricsAndHealthUntilStopped(t *testing.T) {
	reg := metrics.NewRegistry()
	h, err := startHTTP("127.0.0.1:0", transport.Config{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	addr := h.Addr()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/symbol", "/metrics", "/healthz", "/healthz?verbose"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
	if resp, err := http.Get("http://" + addr + "/nothing-here"); err == nil {
		resp.Body.Close()
	}
	// Every request was counted under its route, never its raw path.
	fams, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "jobcluster_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			counted[labels["handler"]+" "+labels["code"]] += m.GetCounter().GetValue()
		}
	}
	for key, want := range map[string]float64{"GET /healthz 200": 2, "GET /metrics 200": 1, "/debug/pprof/ 200": 1, "unmatched 404": 1} {
		if counted[key] != want {
			t.Errorf("jobcluster_http_requests_total{%s} = %v, want %v (all: %v)", key, counted[key], want, counted)
		}
	}
	stopHTTP(h, slog.New(slog.DiscardHandler))
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after stopHTTP", addr)
	}
}

func TestDaemonHTTPDisabledWithoutAddress(t *testing.T) {
	h, err := startHTTP("", transport.Config{}, metrics.NewRegistry())
	if err != nil || h != nil {
		t.Fatalf("startHTTP(\"\") = %v, %v; want no server and no error", h, err)
	}
	stopHTTP(h, slog.New(slog.DiscardHandler))
}

func TestGossipProbeIntervalFlag(t *testing.T) {
	tests := []struct {
		name          string
		probe         time.Duration
		wantInterval  time.Duration
		wantTimeout   time.Duration
		wantUnchanged bool
	}{
		{name: "default", probe: gossip.LANTiming.ProbeInterval, wantUnchanged: true},
		{name: "unset", probe: 0, wantUnchanged: true},
		{name: "a busy machine", probe: 2 * time.Second, wantInterval: 2 * time.Second, wantTimeout: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gossipTiming(tt.probe)
			if tt.wantUnchanged {
				if got != gossip.LANTiming {
					t.Errorf("gossipTiming(%v) = %+v, want LANTiming %+v", tt.probe, got, gossip.LANTiming)
				}
				return
			}
			if got.ProbeInterval != tt.wantInterval || got.ProbeTimeout != tt.wantTimeout || got.GossipInterval != tt.wantInterval || got.GossipNodes != gossip.LANTiming.GossipNodes || got.SuspicionMult != gossip.LANTiming.SuspicionMult {
				t.Errorf("gossipTiming(%v) = %+v, want probe and gossip every %v with a probe timeout of %v, the rest as LANTiming", tt.probe, got, tt.wantInterval, tt.wantTimeout)
			}
		})
	}
	// The agent takes the flag too.
	if newAgentCmd(&tlsFlags{}).Flags().Lookup("gossip-probe-interval") == nil {
		t.Error("agent has no --gossip-probe-interval")
	}
}
