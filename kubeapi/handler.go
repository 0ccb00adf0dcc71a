package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/jobcluster/jobcluster/api"
)

// Config tunes a Handler.
type Config struct {
	// Logger receives request failures at Debug; nil discards them.
	Logger *slog.Logger
	// Table lays out Tables for kubectl get; nil answers lists as lists
	// only, so kubectl prints NAME and AGE.
	Table TableFunc
	// Version is reported by /version as gitVersion; empty reports the
	// Kubernetes API level served, which keeps kubectl's version-skew
	// warning quiet.
	Version string
}

// Handler serves the Kubernetes API subset from c. It is safe for
// concurrent use, as c is.
type Handler struct {
	c      api.ControlClient
	cfg    Config
	logger *slog.Logger
}

// NewHandler returns a Handler calling the service through c.
func NewHandler(c api.ControlClient, cfg Config) *Handler {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{c: c, cfg: cfg, logger: logger}
}

// Paths are the URL patterns the Handler answers, for mounting on a mux.
var Paths = []string{"/api", "/api/", "/apis", "/apis/", "/version", "/openapi/v3", "/openapi/v3/"}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	if strings.HasPrefix(p, "/openapi/v3") {
		serveOpenAPI(w, r)
		return
	}
	switch p {
	case "/version":
		writeJSON(w, http.StatusOK, version.Info{Major: "1", Minor: "32", GitVersion: h.versionString(), Platform: "jobcluster"})
		return
	case "/api", "/apis":
		switch {
		case wantsAggregated(r):
			writeAggregated(w, p == "/api")
		case p == "/api":
			writeJSON(w, http.StatusOK, coreVersions())
		default:
			writeJSON(w, http.StatusOK, groupList())
		}
		return
	}
	req, ok := parsePath(p)
	if !ok {
		writeStatus(w, notFound(r.URL.Path))
		return
	}
	if req.plural == "" {
		list := resourceList(req.groupVersion)
		if list == nil {
			writeStatus(w, notFound(r.URL.Path))
			return
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	k, ok := kindFor(req.groupVersion, req.plural)
	if ok && k.service == "pod" && req.subresource == "log" && r.Method == http.MethodGet {
		h.logs(withAuthorization(r.Context(), r), w, r, req)
		return
	}
	if !ok || req.subresource != "" {
		writeStatus(w, notFound(r.URL.Path))
		return
	}
	ctx := withAuthorization(r.Context(), r)
	if r.Method != http.MethodGet && r.Method != http.MethodDelete && len(r.URL.Query()["dryRun"]) > 0 {
		// Writing would not be dry; refusing is the honest answer.
		writeStatus(w, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest,
			"dryRun is not supported for create, patch and update here: use kubectl's --dry-run=client"))
		return
	}
	switch {
	case r.Method == http.MethodPost && req.name == "" && k.creatable():
		h.create(ctx, w, r, k, req)
	case r.Method == http.MethodDelete && req.name != "" && k.deletable():
		h.deleteObject(ctx, w, r, k, req)
	case r.Method == http.MethodPatch && req.name != "" && k.creatable():
		h.patch(ctx, w, r, k, req)
	case r.Method == http.MethodPut && req.name != "" && k.creatable():
		h.replace(ctx, w, r, k, req)
	case r.Method != http.MethodGet:
		writeStatus(w, methodNotAllowed(r.Method))
	case k.metricsKind():
		if isTrue(r.URL.Query().Get("watch")) {
			writeStatus(w, methodNotAllowed("WATCH"))
			return
		}
		h.metrics(ctx, w, r, k, req)
	case req.name != "":
		h.get(ctx, w, r, k, req)
	case isTrue(r.URL.Query().Get("watch")):
		h.watch(ctx, w, r, k, req)
	default:
		h.list(ctx, w, r, k, req)
	}
}

// isTrue reads a boolean query parameter as kube-apiserver does.
func isTrue(s string) bool { return s == "true" || s == "1" }

func (h *Handler) versionString() string {
	if h.cfg.Version == "" {
		return "v1.32.0-jobcluster"
	}
	return h.cfg.Version
}

// withAuthorization forwards the request's bearer token as gRPC metadata,
// and marks the call as made for the HTTP client: with ACLs on, the
// client's token decides, not the server certificate this API dials with.
func withAuthorization(ctx context.Context, r *http.Request) context.Context {
	md := []string{"x-jobcluster-on-behalf", "kubeapi"}
	if a := r.Header.Get("Authorization"); a != "" {
		md = append(md, "authorization", a)
	}
	return metadata.AppendToOutgoingContext(ctx, md...)
}

func (h *Handler) get(ctx context.Context, w http.ResponseWriter, r *http.Request, k kind, req apiPath) {
	ns := req.namespace
	if k.namespaced && ns == "" {
		ns = "default"
	}
	obj, err := h.c.Get(ctx, &api.GetRequest{Kind: k.service, Name: req.name, Namespace: ns})
	if err != nil {
		h.logger.Debug("kubeapi get", "kind", k.service, "name", req.name, "err", err)
		writeStatus(w, statusFor(err, k.resource(), req.name))
		return
	}
	b, err := api.MarshalJSON(obj)
	if err != nil {
		writeStatus(w, internalError(err))
		return
	}
	if h.cfg.Table != nil && wantsTable(r) {
		writeJSON(w, http.StatusOK, buildTable(h.cfg.Table, k, []*api.Object{obj}, []json.RawMessage{b}, metav1.ListMeta{}, time.Now()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (h *Handler) list(ctx context.Context, w http.ResponseWriter, r *http.Request, k kind, req apiPath) {
	q := r.URL.Query()
	// limit and continue page the list as Kubernetes does: kubectl asks
	// for 500 at a time, client-go's pager follows the tokens.
	var limit int64
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeStatus(w, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("limit: %q is not a whole number", v)))
			return
		}
		limit = n
	}
	resp, err := h.c.List(ctx, &api.ListRequest{
		Kind:          k.service,
		Namespace:     req.namespace,
		LabelSelector: q.Get("labelSelector"),
		FieldSelector: q.Get("fieldSelector"),
		Limit:         limit,
		Continue:      q.Get("continue"),
	})
	if err != nil {
		h.logger.Debug("kubeapi list", "kind", k.service, "err", err)
		writeStatus(w, statusFor(err, k.resource(), ""))
		return
	}
	items := make([]json.RawMessage, 0, len(resp.Items))
	for _, o := range resp.Items {
		b, err := api.MarshalJSON(o)
		if err != nil {
			writeStatus(w, internalError(err))
			return
		}
		items = append(items, b)
	}
	meta := metav1.ListMeta{ResourceVersion: strconv.FormatUint(resp.Index, 10), Continue: resp.GetContinue()}
	if h.cfg.Table != nil && wantsTable(r) {
		writeJSON(w, http.StatusOK, buildTable(h.cfg.Table, k, resp.Items, items, meta, time.Now()))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ListMeta   `json:"metadata"`
		Items           []json.RawMessage `json:"items"`
	}{
		TypeMeta: metav1.TypeMeta{Kind: k.kind + "List", APIVersion: k.groupVersion()},
		Metadata: meta,
		Items:    items,
	})
}

func methodNotAllowed(method string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: http.StatusMethodNotAllowed,
		Reason:  metav1.StatusReasonMethodNotAllowed,
		Message: "the server does not allow this method on the requested resource: " + method,
	}
}

func notFound(path string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: http.StatusNotFound,
		Reason:  metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource",
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Field: "path", Message: path}}},
	}
}

func internalError(err error) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: http.StatusInternalServerError,
		Reason:  metav1.StatusReasonInternalError,
		Message: "encode object: " + err.Error(),
	}
}
