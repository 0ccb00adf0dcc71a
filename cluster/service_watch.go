package cluster

import (
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
)

// bookmarkEvery is how often a quiet watch that allows bookmarks is told
// the index it has reached.
const bookmarkEvery = 10 * time.Second

// Watch streams the changes of one kind of object from a resource version
// (a Raft index) on, as Kubernetes' watch does: ADDED, MODIFIED, DELETED,
// and BOOKMARK. With send_initial_events it first sends every matching
// object as ADDED, then a bookmark marking their end. A resource version
// older than the changes this server remembers fails with OutOfRange
// ("too old resource version"), and the client lists again. A server
// answers only from what it has applied.
func (c *controlService) Watch(req *api.WatchRequest, stream api.Control_WatchServer) error {
	ctx := stream.Context()
	if err := c.s.readyForReads(ctx); err != nil {
		return err
	}
	r, ok := api.LookupResource(req.GetKind())
	if !ok {
		return badKind(req.GetKind())
	}
	sel, err := parseSelector(req.GetLabelSelector())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	fields, err := parseFieldSelector(r, req.GetFieldSelector())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ns := req.GetNamespace()
	if !r.Namespaced {
		ns = ""
	}
	matches := func(o *api.Object) bool {
		meta := api.MetadataOf(o)
		return (ns == "" || api.NamespaceOf(meta) == ns) && sel.matches(meta.GetLabels()) && fields.matches(o)
	}
	from := req.GetResourceVersion()
	if from == 0 || req.GetSendInitialEvents() {
		list, err := c.List(ctx, &api.ListRequest{Kind: req.GetKind(), Namespace: ns, LabelSelector: req.GetLabelSelector(), FieldSelector: req.GetFieldSelector()})
		if err != nil {
			return err
		}
		if from == 0 {
			from = list.GetIndex()
		}
		if req.GetSendInitialEvents() {
			for _, o := range list.GetItems() {
				if err := stream.Send(&api.WatchEvent{Type: "ADDED", Object: o, Index: list.GetIndex()}); err != nil {
					return err
				}
			}
			if err := stream.Send(&api.WatchEvent{Type: "BOOKMARK", Index: list.GetIndex(), InitialEventsEnd: true}); err != nil {
				return err
			}
		}
	}
	lastBookmark := time.Now()
	for {
		changed := c.s.fsm.Changed()
		changes, ok := c.s.fsm.ChangesSince(from)
		if !ok {
			return status.Errorf(codes.OutOfRange, "too old resource version: %d: list again and watch from the list's resourceVersion", from)
		}
		for _, ch := range changes {
			from = ch.Index
			if ch.Kind != r {
				continue
			}
			o := ch.Object()
			if !matches(o) {
				continue
			}
			if err := stream.Send(&api.WatchEvent{Type: ch.Type, Object: o, Index: ch.Index}); err != nil {
				return err
			}
		}
		if req.GetAllowBookmarks() && time.Since(lastBookmark) >= bookmarkEvery {
			if err := stream.Send(&api.WatchEvent{Type: "BOOKMARK", Index: from}); err != nil {
				return err
			}
			lastBookmark = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.s.ctx.Done():
			return status.Error(codes.Unavailable, "server shutting down")
		case <-changed:
		case <-time.After(bookmarkEvery):
		}
	}
}
