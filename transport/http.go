package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// HTTPServer is a daemon's one HTTP listener. Whoever starts the daemon
// adds handlers to it (debug endpoints now; metrics, health and the
// Kubernetes API later), at any time, and closes it when the daemon stops.
type HTTPServer struct {
	mux    *http.ServeMux
	srv    *http.Server
	addr   string
	served chan struct{} // closed once Serve has returned
}

// ListenHTTP binds addr (host:port, port 0 for any) and serves HTTP on it
// in the background until Close; with cfg.TLS, HTTPS that requires a
// client certificate from the CA. Requests for paths without a handler get
// 404 Not Found.
func ListenHTTP(addr string, cfg Config) (*HTTPServer, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on http address %s: %w", addr, err)
	}
	if cfg.TLS != nil {
		// HTTPS only, HTTP/1.1, with the same client certificates as gRPC.
		lis = tls.NewListener(lis, cfg.TLS.serverConfig([]string{"http/1.1"}, nil))
	}
	mux := http.NewServeMux()
	var handler http.Handler = mux
	if cfg.HTTPMiddleware != nil {
		handler = cfg.HTTPMiddleware(mux)
	}
	h := &HTTPServer{
		mux:    mux,
		srv:    &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second},
		addr:   lis.Addr().String(),
		served: make(chan struct{}),
	}
	go func() {
		defer close(h.served)
		// Serve returns http.ErrServerClosed after Close; any other
		// error ends the listener, and requests then fail to connect.
		_ = h.srv.Serve(lis)
	}()
	return h, nil
}

// Handle registers handler for pattern, as http.ServeMux.Handle does.
// It is safe to call while the server runs.
func (h *HTTPServer) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

// HandleFunc registers f for pattern, as http.ServeMux.HandleFunc does.
func (h *HTTPServer) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	h.mux.HandleFunc(pattern, f)
}

// Addr is the address the server listens on.
func (h *HTTPServer) Addr() string { return h.addr }

// Close stops accepting requests, lets those in progress finish until ctx
// ends, then closes every connection and returns once the server is done.
// A nil server is already closed.
func (h *HTTPServer) Close(ctx context.Context) error {
	if h == nil {
		return nil
	}
	err := h.srv.Shutdown(ctx)
	if err != nil {
		// Long requests (a CPU profile, a watch) are cut short.
		err = errors.Join(fmt.Errorf("stop http server on %s: %w", h.addr, err), h.srv.Close())
	}
	<-h.served
	return err
}
