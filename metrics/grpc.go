package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// GRPC counts the calls a process's gRPC servers answer, by method and
// status code, with their latency. Its names follow go-grpc-prometheus.
type GRPC struct {
	handled  *prometheus.CounterVec
	handling *prometheus.HistogramVec
}

func newGRPC(reg prometheus.Registerer) *GRPC {
	g := &GRPC{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "grpc_server_handled_total",
			Help: "gRPC calls answered, by service, method and status code.",
		}, []string{"grpc_service", "grpc_method", "grpc_code"}),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "grpc_server_handling_seconds",
			Help:    "Time from receiving a gRPC call to answering it (a stream's whole life), by service and method.",
			Buckets: slowBuckets,
		}, []string{"grpc_service", "grpc_method"}),
	}
	reg.MustRegister(g.handled, g.handling)
	return g
}

// UnaryInterceptor measures unary calls.
func (g *GRPC) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	g.observe(info.FullMethod, start, err)
	return resp, err
}

// StreamInterceptor measures streaming calls.
func (g *GRPC) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := handler(srv, ss)
	g.observe(info.FullMethod, start, err)
	return err
}

func (g *GRPC) observe(fullMethod string, start time.Time, err error) {
	service, method := splitMethod(fullMethod)
	g.handled.WithLabelValues(service, method, status.Code(err).String()).Inc()
	g.handling.WithLabelValues(service, method).Observe(time.Since(start).Seconds())
}

// splitMethod splits "/package.Service/Method".
func splitMethod(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndex(full, "/"); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}
