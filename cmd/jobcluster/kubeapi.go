package main

import (
	"log/slog"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/kubeapi"
	"github.com/jobcluster/jobcluster/transport"
)

// mountKubeAPI serves the Kubernetes API subset for kubectl and client-go
// on the daemon's HTTP listener, calling the service through client.
func mountKubeAPI(h *transport.HTTPServer, client api.ControlClient, logger *slog.Logger) {
	k := kubeapi.NewHandler(client, kubeapi.Config{Logger: logger.With("component", "kubeapi")})
	for _, p := range kubeapi.Paths {
		h.Handle(p, k)
	}
}
