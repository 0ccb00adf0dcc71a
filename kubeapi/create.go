package kubeapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jobcluster/jobcluster/api"
)

// maxBody bounds a request body, as the service bounds a request.
const maxBody = 3 << 20

// create answers POST on a collection: the body (JSON or YAML) is decoded
// strictly by api.DecodeManifests and submitted like `jobcluster submit`.
func (h *Handler) create(ctx context.Context, w http.ResponseWriter, r *http.Request, k kind, req apiPath) {
	body, st := readObjectBody(r, k)
	if st != nil {
		writeStatus(w, st)
		return
	}
	h.createFrom(ctx, w, k, req, body)
}

// createFrom creates the object that body holds.
func (h *Handler) createFrom(ctx context.Context, w http.ResponseWriter, k kind, req apiPath, body []byte) {
	objs, err := api.DecodeManifests(body)
	if err == nil && len(objs) != 1 {
		err = fmt.Errorf("want one object, got %d", len(objs))
	}
	if err != nil {
		writeStatus(w, invalid(k, "", err.Error()))
		return
	}
	ns := req.namespace
	if ns == "" {
		ns = "default"
	}
	resp, err := h.c.Submit(ctx, &api.SubmitRequest{Objects: objs, Namespace: ns})
	if err != nil {
		writeStatus(w, statusFor(err, k.resource(), ""))
		return
	}
	if len(resp.Results) != 1 {
		writeStatus(w, internalError(fmt.Errorf("submit answered %d results for one object", len(resp.Results))))
		return
	}
	res := resp.Results[0]
	if res.Error != "" {
		writeStatus(w, resultStatus(k, res))
		return
	}
	// A server that does not yet return the stored object answers with the
	// object as submitted: a Get on this server could miss the write until
	// it has applied it.
	obj := res.Object
	if obj == nil {
		obj = objs[0]
	}
	writeObject(w, http.StatusCreated, obj, res.Warnings)
}

// invalid is the 422 Kubernetes answers for a refused object: one cause
// per line of msg, each "field.path: reason" when it names a field.
func invalid(k kind, name, msg string) *metav1.Status {
	st := failure(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "")
	st.Details = &metav1.StatusDetails{Name: name, Group: k.group, Kind: k.kind}
	for _, line := range strings.Split(strings.TrimSpace(msg), "\n") {
		c := metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Message: line}
		if field, reason, ok := strings.Cut(line, ": "); ok && !strings.Contains(field, " ") {
			c.Field, c.Message = field, reason
		}
		st.Details.Causes = append(st.Details.Causes, c)
	}
	st.Message = fmt.Sprintf("%s %q is invalid: %s", k.kind, name, strings.ReplaceAll(strings.TrimSpace(msg), "\n", ", "))
	return st
}

// failure is a failed Status with code, reason and message.
func failure(code int32, reason metav1.StatusReason, msg string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: code, Reason: reason, Message: msg,
	}
}
