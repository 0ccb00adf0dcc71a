// Package ui is the cluster's web UI: server-rendered pages about Jobs,
// CronJobs, nodes and servers, kept live with server-sent events, and the
// actions users take on them. It reads and writes only through the same
// gRPC service operations the command line uses.
package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
)

// Prefix is the path the UI is served under; Handler expects to receive
// requests with their full path.
const Prefix = "/ui/"

// Config tunes the UI. The zero value is ready to use.
type Config struct {
	// Logger receives failures that cannot be shown on a page; nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock for ages and next fire times; nil is time.Now.
	Now func() time.Time
	// Poll is how often live pages ask the service for changes; zero is
	// one second.
	Poll time.Duration
}

// callTimeout bounds one service call made to render a page or run an
// action.
const callTimeout = 5 * time.Second

// server holds what the handlers share. It is safe for concurrent use:
// the client is, and nothing else changes after Handler returns.
type server struct {
	client api.ControlClient
	logger *slog.Logger
	now    func() time.Time
	poll   time.Duration
	pages  map[string]*page
}

// Handler serves the UI under Prefix, calling client for everything it
// shows and does. Requests that change state must be POSTs from the UI's
// own origin; cross-site ones are refused.
func Handler(client api.ControlClient, cfg Config) http.Handler {
	s := &server{client: client, logger: cfg.Logger, now: cfg.Now, poll: cfg.Poll, pages: parsePages()}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.poll <= 0 {
		s.poll = time.Second
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix, http.FileServerFS(staticFS)))
	mux.HandleFunc("GET "+Prefix+"live/", s.serveLive)
	mux.HandleFunc("GET "+Prefix+"logs/{pod}", s.serveLogs)
	mux.HandleFunc("POST "+Prefix+"submit", s.serveSubmit)
	mux.HandleFunc("POST "+Prefix+"action", s.serveAction)
	mux.HandleFunc("POST "+Prefix+"token", s.serveToken)
	mux.HandleFunc("GET "+Prefix, s.servePage)
	return http.NewCrossOriginProtection().Handler(securityHeaders(withToken(mux)))
}

// securityHeaders keeps the pages from being framed by other sites and
// from loading anything but their own assets.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// view builds what one page shows from the service. args are the path
// segments after the page's own (a Job's name).
type view func(ctx context.Context, s *server, q url.Values, args []string) (any, error)

// route finds the page for a path below Prefix ("jobs/pi") and its
// arguments.
func route(path string) (name string, args []string, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "":
		return "overview", nil, true
	case len(parts) == 1 && (parts[0] == "jobs" || parts[0] == "cronjobs" || parts[0] == "nodes" || parts[0] == "submit"):
		return parts[0], nil, true
	case len(parts) == 2 && parts[0] == "jobs" && parts[1] != "":
		return "job", parts[1:], true
	case len(parts) == 2 && parts[0] == "cronjobs" && parts[1] != "":
		return "cronjob", parts[1:], true
	}
	return "", nil, false
}

// servePage renders a whole page.
func (s *server) servePage(w http.ResponseWriter, r *http.Request) {
	name, args, ok := route(strings.TrimPrefix(r.URL.Path, Prefix))
	if !ok {
		http.NotFound(w, r)
		return
	}
	p := s.pages[name]
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	data, err := p.view(ctx, s, r.URL.Query(), args)
	code := http.StatusOK
	if err != nil {
		code = httpStatus(err)
	}
	s.render(w, code, p, pageData{
		Title:     p.title(args),
		Nav:       p.nav,
		Path:      r.URL.Path,
		Query:     r.URL.Query(),
		Live:      p.live,
		Flash:     takeFlash(w, r),
		Err:       errorText(err),
		NeedToken: needsToken(err),
		SignedIn:  signedIn(r),
		Data:      data,
		Now:       s.now(),
		Prefix:    Prefix,
	})
}

// errorText is what a page shows for a failed call: the server's own
// message for a refusal, else the error.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

// httpStatus maps a failed service call to the page's HTTP status.
func httpStatus(err error) int {
	var bad *badRequestError
	if errors.As(err, &bad) {
		return http.StatusBadRequest
	}
	switch status.Code(err) {
	case codes.NotFound:
		return http.StatusNotFound
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		return http.StatusConflict
	case codes.Unavailable, codes.DeadlineExceeded:
		return http.StatusServiceUnavailable
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// badRequestError is a request the UI itself cannot make sense of.
type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }
