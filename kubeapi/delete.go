package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/jobcluster/jobcluster/api"
)

// deleteObject answers DELETE on one object with our service's Delete, as
// `jobcluster delete` does. Deleting a Job removes its pods in the same
// Raft entry, and deleting a CronJob its Jobs, so the Background and
// Foreground propagation policies both hold once the answer is sent; Orphan
// cannot be honoured for kinds that own others and is refused. The answer
// is a success Status, as kube-apiserver gives for an object deleted at
// once.
func (h *Handler) deleteObject(ctx context.Context, w http.ResponseWriter, r *http.Request, k kind, req apiPath) {
	opts, err := deleteOptions(r)
	if err != nil {
		writeStatus(w, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()))
		return
	}
	ns := req.namespace
	if k.namespaced && ns == "" {
		ns = "default"
	}
	if opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationOrphan && k.ownsOthers() {
		why := fmt.Sprintf(`Unsupported value: "Orphan": deleting a %s always deletes what it created: supported values: "Background", "Foreground"`, k.kind)
		st := failure(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, fmt.Sprintf("DeleteOptions.meta.k8s.io %q is invalid: propagationPolicy: %s", req.name, why))
		st.Details = &metav1.StatusDetails{Name: req.name, Group: "meta.k8s.io", Kind: "DeleteOptions", Causes: []metav1.StatusCause{{
			Type: metav1.CauseTypeFieldValueNotSupported, Field: "propagationPolicy", Message: why,
		}}}
		writeStatus(w, st)
		return
	}
	dr := &api.DeleteRequest{Kind: k.service, Name: req.name, Namespace: ns}
	var uid string
	if p := opts.Preconditions; p != nil {
		if p.UID != nil {
			dr.Uid = string(*p.UID)
		}
		if p.ResourceVersion != nil {
			// Our Delete takes a uid precondition only: compare the
			// resourceVersion here and delete that very object by uid,
			// so a recreated object of the same name is never deleted.
			obj, err := h.c.Get(ctx, &api.GetRequest{Kind: k.service, Name: req.name, Namespace: ns})
			if err != nil {
				writeStatus(w, statusFor(err, k.resource(), req.name))
				return
			}
			meta := api.MetadataOf(obj)
			if got := meta.GetResourceVersion(); got != *p.ResourceVersion {
				writeStatus(w, conflict(k, req.name, fmt.Sprintf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *p.ResourceVersion, got)))
				return
			}
			if dr.Uid == "" {
				dr.Uid = meta.GetUid()
			}
		}
	}
	uid = dr.Uid
	if slices.Contains(opts.DryRun, metav1.DryRunAll) {
		// A dry run deletes nothing: it only checks the object is there.
		if _, err := h.c.Get(ctx, &api.GetRequest{Kind: k.service, Name: req.name, Namespace: ns}); err != nil {
			writeStatus(w, statusFor(err, k.resource(), req.name))
			return
		}
	} else if _, err := h.c.Delete(ctx, dr); err != nil {
		h.logger.Debug("kubeapi delete", "kind", k.service, "name", req.name, "err", err)
		writeStatus(w, statusFor(err, k.resource(), req.name))
		return
	}
	writeJSON(w, http.StatusOK, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Details:  &metav1.StatusDetails{Name: req.name, Group: k.group, Kind: k.plural, UID: types.UID(uid)},
	})
}

// deleteOptions reads the request's DeleteOptions: the body kubectl and
// client-go send, or the query parameters of the same names.
func deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if u, ok, err := unwrapProtobuf(body); ok {
		if err == nil {
			err = opts.Unmarshal(u.Raw)
		}
		if err != nil {
			return nil, fmt.Errorf("decode protobuf DeleteOptions: %w", err)
		}
	} else if len(body) > 0 {
		if err := json.Unmarshal(body, opts); err != nil {
			return nil, fmt.Errorf("decode DeleteOptions: %w", err)
		}
	}
	q := r.URL.Query()
	if p := q.Get("propagationPolicy"); p != "" && opts.PropagationPolicy == nil {
		policy := metav1.DeletionPropagation(p)
		opts.PropagationPolicy = &policy
	}
	if len(opts.DryRun) == 0 {
		opts.DryRun = q["dryRun"]
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, fmt.Errorf("propagationPolicy: Unsupported value: %q: supported values: \"Background\", \"Foreground\", \"Orphan\"", *opts.PropagationPolicy)
		}
	}
	return opts, nil
}

// conflict is the 409 Kubernetes answers when a write's precondition
// fails on res/name.
func conflict(k kind, name, why string) *metav1.Status {
	st := failure(http.StatusConflict, metav1.StatusReasonConflict,
		fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", k.resource(), name, why))
	st.Details = &metav1.StatusDetails{Name: name, Group: k.group, Kind: k.plural}
	return st
}
