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
	h, err := startHTTP("127.0.0.1:0", transport.Config{}, metrics.NewRegistry())
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
