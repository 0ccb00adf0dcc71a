package kubeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jobcluster/jobcluster/api"
)

// initialEventsEnd is the annotation of the bookmark that ends the initial
// events of a watch asked for with sendInitialEvents=true.
const initialEventsEnd = "k8s.io/initial-events-end"

// watchEvent is one line of a watch stream, as kube-apiserver writes it.
type watchEvent struct {
	Type   string `json:"type"`
	Object any    `json:"object"`
}

// watch answers GET on a collection with watch=true: a chunked stream of
// JSON lines, one per change our Watch RPC reports, ending when the client
// goes, timeoutSeconds passes or the server ends the stream. A too old
// resourceVersion comes as an ERROR event holding a 410 Expired Status, as
// kube-apiserver's watch cache sends it, and the client lists again. With
// a Table asked for (kubectl get -w), each event carries a one-row Table,
// and only the first one its column definitions.
func (h *Handler) watch(ctx context.Context, w http.ResponseWriter, r *http.Request, k kind, req apiPath) {
	q := r.URL.Query()
	wr := &api.WatchRequest{
		Kind:           k.service,
		Namespace:      req.namespace,
		LabelSelector:  q.Get("labelSelector"),
		FieldSelector:  q.Get("fieldSelector"),
		AllowBookmarks: q.Get("allowWatchBookmarks") == "true",
	}
	from, err := parseResourceVersion(q.Get("resourceVersion"))
	if err != nil {
		writeStatus(w, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()))
		return
	}
	switch q.Get("sendInitialEvents") {
	case "true":
		// Our initial events are the current state, which is never older
		// than the version asked for: NotOlderThan holds.
		wr.SendInitialEvents = true
	case "false":
		wr.ResourceVersion = from
	default:
		// Without a version Kubernetes starts with every object as ADDED.
		wr.ResourceVersion, wr.SendInitialEvents = from, from == 0
	}
	if t := q.Get("timeoutSeconds"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			writeStatus(w, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, "timeoutSeconds: must be a non-negative integer"))
			return
		}
		if n > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Second)
			defer cancel()
		}
	}
	stream, err := h.c.Watch(ctx, wr)
	if err != nil {
		writeStatus(w, statusFor(err, k.resource(), ""))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	table := h.cfg.Table != nil && wantsTable(r)
	columnsSent := false
	for {
		ev, err := stream.Recv()
		if err != nil {
			switch {
			case ctx.Err() != nil, errors.Is(err, io.EOF):
			default:
				h.logger.Debug("kubeapi watch", "kind", k.service, "err", err)
				_ = enc.Encode(watchEvent{Type: "ERROR", Object: statusFor(err, k.resource(), "")})
			}
			return
		}
		out, ok, err := h.watchObject(k, ev, table, !columnsSent, wr.AllowBookmarks && wr.SendInitialEvents && q.Get("sendInitialEvents") == "true")
		if err != nil {
			_ = enc.Encode(watchEvent{Type: "ERROR", Object: internalError(err)})
			return
		}
		if !ok {
			continue
		}
		if table && ev.GetType() != "BOOKMARK" {
			columnsSent = true
		}
		if err := enc.Encode(watchEvent{Type: ev.GetType(), Object: out}); err != nil {
			return // the client went away
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// watchObject is the object of one watch event as the client sees it; ok
// is false for an event the client did not ask for (a bookmark without
// allowWatchBookmarks, or in a Table stream). Objects carry the
// resourceVersion of the event: a deleted one that of its deletion.
// endBookmark says whether the bookmark ending the initial events is sent.
func (h *Handler) watchObject(k kind, ev *api.WatchEvent, table, withColumns, endBookmark bool) (any, bool, error) {
	rv := strconv.FormatUint(ev.GetIndex(), 10)
	if ev.GetType() == "BOOKMARK" {
		if table || ev.GetInitialEventsEnd() && !endBookmark {
			return nil, false, nil
		}
		meta := metav1.ObjectMeta{ResourceVersion: rv}
		if ev.GetInitialEventsEnd() {
			meta.Annotations = map[string]string{initialEventsEnd: "true"}
		}
		return struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        metav1.ObjectMeta `json:"metadata"`
		}{metav1.TypeMeta{Kind: k.kind, APIVersion: k.groupVersion()}, meta}, true, nil
	}
	obj := ev.GetObject()
	if meta := api.MetadataOf(obj); meta != nil && (ev.GetType() == "DELETED" || meta.GetResourceVersion() == "") {
		meta.ResourceVersion = rv
	}
	b, err := api.MarshalJSON(obj)
	if err != nil {
		return nil, false, err
	}
	if !table {
		return json.RawMessage(b), true, nil
	}
	t := buildTable(h.cfg.Table, k, []*api.Object{obj}, []json.RawMessage{b}, metav1.ListMeta{ResourceVersion: rv}, time.Now())
	if !withColumns {
		// kubectl lays out a Table without columns like the last one.
		t.ColumnDefinitions = nil
	}
	return t, true, nil
}

// parseResourceVersion reads a resourceVersion parameter: empty is 0.
func parseResourceVersion(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("resourceVersion: invalid value %q: must be a number this API returned", s)
	}
	return n, nil
}
