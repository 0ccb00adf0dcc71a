// Package metrics defines what jobcluster servers and agents measure, in
// the Prometheus model, and the health endpoints beside it. Each process
// keeps its own Registry (never Prometheus' global one), so servers and
// agents started side by side in one test process count apart.
//
// Which process counts what:
//   - Outcomes of the replicated state (jobcluster_jobs_finished_total,
//     jobcluster_job_pods_*, jobcluster_cronjob_*_total, the skew
//     histogram) are counted by every server as it applies the Raft log,
//     each event once, from the entries applied after the server started.
//     Any one server gives the cluster's figures; do not sum over servers.
//   - Controller work (sync durations, placement, proposals, leases) is
//     measured by the leader that did it. Sum over servers.
//   - Raft, gossip and gauges of the stored state are each server's view.
//   - jobcluster_agent_* are each agent's own; sum over agents.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every family.
const namespace = "jobcluster"

// Registry holds one process's collectors. Safe for concurrent use.
type Registry struct {
	reg      *prometheus.Registry
	grpcOnce sync.Once
	grpc     *GRPC
	httpOnce sync.Once
	http     *HTTP
}

// NewRegistry returns a registry with the Go runtime and process
// collectors already in it.
func NewRegistry() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// Registerer is where a component registers its collectors.
func (r *Registry) Registerer() prometheus.Registerer { return r.reg }

// Gatherer reads every collector, as a scrape does.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves GET /metrics in the Prometheus exposition formats.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// GRPC is the process's gRPC server metrics, shared by every gRPC server
// in it (a dev process runs a server's and an agent's).
func (r *Registry) GRPC() *GRPC {
	r.grpcOnce.Do(func() { r.grpc = newGRPC(r.reg) })
	return r.grpc
}

// HTTP is the process's HTTP request metrics.
func (r *Registry) HTTP() *HTTP {
	r.httpOnce.Do(func() { r.http = newHTTP(r.reg) })
	return r.http
}

// Latency buckets, in seconds.
var (
	// fastBuckets suit in-memory work and local disk writes: 100µs to 2.5s.
	fastBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
	// slowBuckets suit waits that involve the network or a schedule:
	// 1ms to 2m.
	slowBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
)
