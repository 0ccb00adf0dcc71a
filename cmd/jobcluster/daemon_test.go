package main

import (
	"log/slog"
	"net"
	"net/http"
	"testing"

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
