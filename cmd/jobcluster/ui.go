package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/transport"
	"github.com/jobcluster/jobcluster/ui"
)

// mountUI serves the web UI at /ui/ and the Kubernetes API subset (see
// mountKubeAPI) on the daemon's HTTP listener, calling
// the server at rpcAddr (the daemon's own, with the daemon's own transport
// security) for everything it shows. The
// returned function closes its connection; with no listener there is
// nothing to do.
func mountUI(h *transport.HTTPServer, rpcAddr string, cfg transport.Config, logger *slog.Logger) (func(), error) {
	if h == nil {
		return func() {}, nil
	}
	cc, err := transport.Dial(dialable(rpcAddr), cfg)
	if err != nil {
		return nil, fmt.Errorf("web ui: %w", err)
	}
	client := api.NewControlClient(cc)
	h.Handle(ui.Prefix, ui.Handler(client, ui.Config{Logger: logger.With("component", "ui")}))
	mountKubeAPI(h, client, logger)
	return func() { cc.Close() }, nil
}

// dialable turns a bound address into one to dial: a wildcard host
// ("0.0.0.0:7400", ":7400") is reached on loopback.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if ip != nil && ip.To4() == nil {
			return net.JoinHostPort("::1", port)
		}
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// uiURL is where a browser opens the UI served on httpAddr.
func uiURL(httpAddr string) string {
	return "http://" + dialable(httpAddr) + ui.Prefix
}
