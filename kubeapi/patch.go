package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/jobcluster/jobcluster/api"
)

// patchAttempts bounds how often a patch is applied again to a newer
// object after a concurrent write, as kube-apiserver retries too.
const patchAttempts = 5

// change is how a PATCH or PUT turns the stored object's JSON into the
// new one.
type change struct {
	apply func(any) (any, error)
	// create, for server-side apply, is the object to create when there is
	// none yet.
	create     []byte
	createName string
}

// patch answers PATCH on a Job or CronJob (kubectl label, annotate, patch,
// apply, edit).
func (h *Handler) patch(ctx context.Context, w http.ResponseWriter, r *http.Request, k kind, req apiPath) {
	c, st := readPatch(r, k)
	if st != nil {
		writeStatus(w, st)
		return
	}
	h.update(ctx, w, k, req, c)
}

// replace answers PUT on a Job or CronJob (kubectl replace, client-go's
// Update): the body is the whole new object. Its resourceVersion, when
// set, is the precondition; without one the write is unconditional.
func (h *Handler) replace(ctx context.Context, w http.ResponseWriter, r *http.Request, k kind, req apiPath) {
	body, st := readObjectBody(r, k)
	if st != nil {
		writeStatus(w, st)
		return
	}
	doc, err := decodeDocument(body)
	if err != nil {
		writeStatus(w, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()))
		return
	}
	h.update(ctx, w, k, req, change{apply: func(any) (any, error) { return deepCopyJSON(doc), nil }})
}

// update applies c to the object as read with Get and writes the result
// with Submit apply and the read resourceVersion as precondition, so a
// concurrent write is never lost: on a conflict c is applied again to the
// newer object. A resourceVersion the change sets itself is the client's
// precondition and is not retried. Changes to immutable fields are
// refused by the service as for `jobcluster apply`.
func (h *Handler) update(ctx context.Context, w http.ResponseWriter, k kind, req apiPath, c change) {
	ns := req.namespace
	if ns == "" {
		ns = "default"
	}
	for attempt := 1; ; attempt++ {
		cur, err := h.c.Get(ctx, &api.GetRequest{Kind: k.service, Name: req.name, Namespace: ns})
		if status.Code(err) == codes.NotFound && c.create != nil {
			if name := c.createName; name != req.name {
				writeStatus(w, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest,
					fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", name, req.name)))
				return
			}
			h.createFrom(ctx, w, k, req, c.create)
			return
		}
		if err != nil {
			writeStatus(w, statusFor(err, k.resource(), req.name))
			return
		}
		read := api.MetadataOf(cur).GetResourceVersion()
		obj, clientRV, st := patchObject(k, req.name, cur, c.apply)
		if st != nil {
			writeStatus(w, st)
			return
		}
		resp, err := h.c.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{obj}, Apply: true, Namespace: ns})
		if err != nil {
			writeStatus(w, statusFor(err, k.resource(), req.name))
			return
		}
		if len(resp.Results) != 1 {
			writeStatus(w, internalError(fmt.Errorf("submit answered %d results for one object", len(resp.Results))))
			return
		}
		res := resp.Results[0]
		if res.Code == "Aborted" && clientRV == read && attempt < patchAttempts {
			continue // written meanwhile: patch the newer object
		}
		if res.Error != "" {
			writeStatus(w, resultStatus(k, res))
			return
		}
		writeObject(w, http.StatusOK, res.Object, res.Warnings)
		return
	}
}

// readPatch reads the body of a PATCH and returns the change it makes, or
// the Status refusing it.
func readPatch(r *http.Request, k kind) (change, *metav1.Status) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, st := readBody(r, "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml")
	if st != nil {
		return change{}, st
	}
	badRequest := func(err error) *metav1.Status {
		return failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
	}
	switch mt {
	case "application/merge-patch+json", "application/strategic-merge-patch+json":
		var patch any
		if err := json.Unmarshal(body, &patch); err != nil {
			return change{}, badRequest(fmt.Errorf("decode patch: %w", err))
		}
		if mt == "application/strategic-merge-patch+json" {
			return change{apply: func(doc any) (any, error) { return strategicMergePatch(k.kind, doc, deepCopyJSON(patch)) }}, nil
		}
		return change{apply: func(doc any) (any, error) { return mergePatch(doc, deepCopyJSON(patch)), nil }}, nil
	case "application/json-patch+json":
		var ops []jsonPatchOp
		if err := json.Unmarshal(body, &ops); err != nil {
			return change{}, badRequest(fmt.Errorf("decode json patch: %w", err))
		}
		return change{apply: func(doc any) (any, error) { return jsonPatch(doc, ops) }}, nil
	default: // application/apply-patch+yaml
		// Server-side apply, as a subset: the configuration creates the
		// object, or is merged into it by Kubernetes' merge keys. Fields
		// it leaves out are kept, and there is no field ownership.
		config, err := decodeDocument(body)
		if err != nil {
			return change{}, badRequest(err)
		}
		b, err := json.Marshal(config)
		if err != nil {
			return change{}, badRequest(err)
		}
		meta, _ := config["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		return change{
			apply:      func(doc any) (any, error) { return strategicMergePatch(k.kind, doc, deepCopyJSON(config)) },
			create:     b,
			createName: name,
		}, nil
	}
}

// readBody reads a request body of one of the media types, bounded.
func readBody(r *http.Request, mediaTypes ...string) ([]byte, *metav1.Status) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !slices.Contains(mediaTypes, mt) {
		return nil, failure(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s (got %q)", strings.Join(slices.DeleteFunc(slices.Clone(mediaTypes), func(s string) bool { return s == "" }), ", "), mt))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, "read body: "+err.Error())
	}
	if len(body) > maxBody {
		return nil, failure(http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge, "request body over 3 MiB")
	}
	return body, nil
}

// decodeDocument decodes one JSON or YAML object.
func decodeDocument(body []byte) (map[string]any, error) {
	j, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, fmt.Errorf("decode body: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(j, &doc); err != nil || doc == nil {
		return nil, fmt.Errorf("decode body: want one JSON or YAML object")
	}
	return doc, nil
}

// deepCopyJSON copies a decoded JSON value, so that a change applied again
// after a conflict starts from the same patch.
func deepCopyJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopyJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopyJSON(e)
		}
		return out
	}
	return v
}

// patchObject applies a patch to cur and decodes the result as a manifest.
// It returns the resourceVersion the result carries: the one read, unless
// the patch set its own.
func patchObject(k kind, name string, cur *api.Object, apply func(any) (any, error)) (*api.Object, string, *metav1.Status) {
	b, err := api.MarshalJSON(cur)
	if err != nil {
		return nil, "", internalError(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, "", internalError(err)
	}
	patched, err := apply(doc)
	if err != nil {
		return nil, "", invalid(k, name, err.Error())
	}
	m, ok := patched.(map[string]any)
	if !ok {
		return nil, "", invalid(k, name, "the patched object is not a JSON object")
	}
	// Status is written by the cluster, never through the main resource.
	delete(m, "status")
	meta, _ := m["metadata"].(map[string]any)
	if got, _ := meta["name"].(string); got != name {
		return nil, "", invalid(k, name, fmt.Sprintf("metadata.name: Invalid value: %q: field is immutable", got))
	}
	if apiVersion, _ := m["apiVersion"].(string); apiVersion != k.groupVersion() || m["kind"] != k.kind {
		return nil, "", invalid(k, name, "apiVersion, kind: field is immutable")
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, "", internalError(err)
	}
	objs, err := api.DecodeManifests(out)
	if err == nil && len(objs) != 1 {
		err = fmt.Errorf("want one object, got %d", len(objs))
	}
	if err != nil {
		return nil, "", invalid(k, name, err.Error())
	}
	rv, _ := meta["resourceVersion"].(string)
	return objs[0], rv, nil
}

// resultStatus is the Status for a refused object of a Submit.
func resultStatus(k kind, res *api.SubmitResult) *metav1.Status {
	switch res.Code {
	case "AlreadyExists":
		st := failure(http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf("%s %q already exists", k.resource(), res.Name))
		st.Details = &metav1.StatusDetails{Name: res.Name, Group: k.group, Kind: k.plural}
		return st
	case "Aborted", "FailedPrecondition":
		st := failure(http.StatusConflict, metav1.StatusReasonConflict, res.Error)
		st.Details = &metav1.StatusDetails{Name: res.Name, Group: k.group, Kind: k.plural}
		return st
	}
	// The service words a refused update "The Job "x" is invalid: ...";
	// invalid words it again from the causes.
	msg := strings.TrimPrefix(res.Error, fmt.Sprintf("The %s %q is invalid: ", k.kind, res.Name))
	return invalid(k, res.Name, msg)
}

// writeObject answers with obj as JSON and code, passing warnings on as
// kube-apiserver does: RFC 7234 warn-code 299, which kubectl prints as
// "Warning: " and the text.
func writeObject(w http.ResponseWriter, code int, obj *api.Object, warnings []string) {
	b, err := api.MarshalJSON(obj)
	if err != nil {
		writeStatus(w, internalError(err))
		return
	}
	for _, warning := range warnings {
		w.Header().Add("Warning", "299 - "+strconv.Quote(warning))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
