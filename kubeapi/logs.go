package kubeapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jobcluster/jobcluster/api"
)

// logs answers GET pods/{name}/log with the pod's output as text, streamed
// as it arrives with follow=true. container is accepted (a pod has one
// container here); timestamps and sinceSeconds are not supported yet.
func (h *Handler) logs(ctx context.Context, w http.ResponseWriter, r *http.Request, req apiPath) {
	q := r.URL.Query()
	ns := req.namespace
	if ns == "" {
		ns = "default"
	}
	lr := &api.LogsRequest{Pod: req.name, Namespace: ns, Follow: q.Get("follow") == "true", Previous: q.Get("previous") == "true"}
	if t := q.Get("tailLines"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			writeStatus(w, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, "tailLines: must be a non-negative integer"))
			return
		}
		lr.TailLines = &n
	}
	stream, err := h.c.Logs(ctx, lr)
	if err == nil {
		// The first message carries the server's answer, so a missing pod
		// is a Status rather than an empty 200.
		var chunk *api.LogChunk
		chunk, err = stream.Recv()
		if err == nil || errors.Is(err, io.EOF) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			if chunk != nil {
				_, _ = w.Write(chunk.Data)
			}
			h.copyLogs(w, stream, err)
			return
		}
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.FailedPrecondition {
		// A pod with no log to give yet (no node) or any more (its agent
		// gone, nothing kept): kube-apiserver answers 400 with the reason,
		// not the write conflict FailedPrecondition means elsewhere.
		writeStatus(w, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, st.Message()))
		return
	}
	writeStatus(w, statusFor(err, resource{plural: "pods"}, req.name))
}

// copyLogs writes the rest of stream to w, flushing each chunk so
// `kubectl logs -f` sees lines as they come.
func (h *Handler) copyLogs(w http.ResponseWriter, stream interface{ Recv() (*api.LogChunk, error) }, err error) {
	f, _ := w.(http.Flusher)
	for err == nil {
		if f != nil {
			f.Flush()
		}
		var chunk *api.LogChunk
		if chunk, err = stream.Recv(); err == nil {
			_, _ = w.Write(chunk.Data)
		}
	}
	if !errors.Is(err, io.EOF) {
		h.logger.Debug("kubeapi logs", "err", err)
	}
}
