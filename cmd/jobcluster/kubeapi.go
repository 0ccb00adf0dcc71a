package main

import (
	"log/slog"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/kubeapi"
	"github.com/jobcluster/jobcluster/transport"
)

// mountKubeAPI serves the Kubernetes API subset for kubectl and client-go
// on the daemon's HTTP listener, calling the service through client. Its
// Tables use the columns of our own get.
func mountKubeAPI(h *transport.HTTPServer, client api.ControlClient, logger *slog.Logger) {
	k := kubeapi.NewHandler(client, kubeapi.Config{
		Logger: logger.With("component", "kubeapi"),
		Table:  kindTable,
	})
	for _, p := range kubeapi.Paths {
		h.Handle(p, k)
	}
}

// kindTable is table for a Kubernetes kind name.
func kindTable(kind string, objs []*api.Object, now time.Time, wide bool) ([]string, [][]string) {
	for _, r := range api.Resources() {
		if r.Kind == kind {
			return table(r, objs, now, wide)
		}
	}
	return []string{"NAME"}, nil
}
