package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

type describeOptions struct {
	selector string
}

func newDescribeCmd(copts *clientOptions) *cobra.Command {
	o := &describeOptions{}
	cmd := &cobra.Command{
		Use:   "describe (job|pod|cronjob|node) [NAME...]",
		Short: "Show the details of jobs, pods, cronjobs or nodes with their recent events",
		Long: `Show an object's spec, status and recent events in kubectl's layout.
Without a name, every object of the kind is described.`,
		Example: `  jobcluster describe job pi
  jobcluster describe pods -l job-name=pi
  jobcluster describe node agent-1`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, copts, args)
		},
	}
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "label selector to filter on when no name is given")
	return cmd
}

func (o *describeOptions) run(cmd *cobra.Command, copts *clientOptions, args []string) error {
	r, names, err := parseResourceArgs(args, api.JobResource, api.PodResource, api.CronJobResource, api.NodeResource, api.ConfigMapResource, api.SecretResource)
	if err != nil {
		return err
	}
	if len(names) > 0 && o.selector != "" {
		return errors.New("name cannot be provided when a selector is specified")
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		return o.describe(ctx, cmd, c, r, names)
	})
}

// describe prints the description of each named object of kind r, or of
// every one the selector matches when no name is given.
func (o *describeOptions) describe(ctx context.Context, cmd *cobra.Command, c *client, r *api.Resource, names []string) error {
	var (
		objs    []*api.Object
		missing []error
		err     error
	)
	if len(names) == 0 {
		if objs, err = listObjects(ctx, c, &api.ListRequest{Kind: r.Singular, LabelSelector: o.selector, Namespace: c.namespace}); err != nil {
			return err
		}
		if len(objs) == 0 {
			return printNoResources(cmd.ErrOrStderr(), r, scope{namespace: c.namespace})
		}
	} else if objs, missing, err = getNamed(ctx, c, r, names); err != nil {
		return err
	}
	d := describer{now: time.Now(), loc: time.Local}
	for i, obj := range objs {
		text, err := d.fetchAndDescribe(ctx, c, r, obj)
		if err != nil {
			return err
		}
		if i > 0 {
			text = "\n\n" + text
		}
		if _, err := fmt.Fprint(cmd.OutOrStdout(), text); err != nil {
			return fmt.Errorf("write description: %w", err)
		}
	}
	return errors.Join(missing...)
}

// fetchAndDescribe reads what the description of obj needs besides obj
// itself (its events, a node's pods) and renders it.
func (d describer) fetchAndDescribe(ctx context.Context, c *client, r *api.Resource, obj *api.Object) (string, error) {
	name := api.NameOf(obj)
	events, err := listEvents(ctx, c, r, api.MetadataOf(obj).GetNamespace(), name)
	if err != nil {
		return "", err
	}
	switch o := obj.GetKind().(type) {
	case *api.Object_Job:
		return d.job(o.Job, events), nil
	case *api.Object_Pod:
		text := d.pod(o.Pod, events)
		if tail := podLogTail(ctx, c.in(o.Pod.GetMetadata().GetNamespace()), name, describeLogLines); tail != "" {
			text += "Last Log Lines:\n" + indentLines(tail, "  ")
		}
		return text, nil
	case *api.Object_CronJob:
		history, err := cronHistory(ctx, c.in(o.CronJob.GetMetadata().GetNamespace()), &api.CronHistoryRequest{Name: name, Limit: describeHistory})
		if err != nil {
			return "", err
		}
		return d.cronJob(o.CronJob, events, history), nil
	case *api.Object_ConfigMap:
		return d.configMap(o.ConfigMap, events), nil
	case *api.Object_Secret:
		return d.secret(o.Secret, events), nil
	case *api.Object_Node:
		// The servers read a node's unfinished pods from an index; the
		// finished ones they keep are not read at all.
		pods, err := listObjects(ctx, c, &api.ListRequest{Kind: api.PodResource.Singular, FieldSelector: nodePodsSelector(name)})
		if err != nil {
			return "", err
		}
		return d.node(o.Node, nodePods(pods, name), events), nil
	}
	return "", fmt.Errorf("cannot describe a %s", api.KindOf(obj))
}

// listEvents reads the events about one object, oldest first. The server
// is asked for them by kind and name; they are filtered here as well, so
// a server that ignores the filter still gives the right answer.
func listEvents(ctx context.Context, c *client, r *api.Resource, namespace, name string) ([]*api.Event, error) {
	items, err := listObjects(ctx, c, &api.ListRequest{Kind: api.EventResource.Singular, InvolvedKind: r.Singular, InvolvedName: name, Namespace: namespace})
	if err != nil {
		return nil, err
	}
	var events []*api.Event
	for _, item := range items {
		e := item.GetEvent()
		involved := e.GetInvolvedObject()
		if e != nil && strings.EqualFold(involved.GetKind(), r.Singular) && involved.GetName() == name &&
			(!r.Namespaced || api.NamespaceOr(involved.GetNamespace()) == api.NamespaceOr(namespace)) {
			events = append(events, e)
		}
	}
	return events, nil
}

// describer renders objects in kubectl's describe layout, with ages taken
// at now and times shown in loc.
type describer struct {
	now time.Time
	loc *time.Location
}

// timestamp formats a time as kubectl describe does, "<unset>" when unset.
func (d describer) timestamp(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "<unset>"
	}
	return ts.AsTime().In(d.loc).Format(time.RFC1123Z)
}

// prefixWriter writes indented "Field:\tvalue" lines whose values line up,
// like kubectl's describe output.
type prefixWriter struct {
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newPrefixWriter() *prefixWriter {
	w := &prefixWriter{}
	w.tw = tabwriter.NewWriter(&w.buf, 0, 8, 2, ' ', 0)
	return w
}

// write prints a line at an indentation level of two spaces per level.
func (w *prefixWriter) write(level int, format string, args ...any) {
	fmt.Fprintf(w.tw, strings.Repeat("  ", level)+format, args...)
}

// flush ends the current alignment, so that a table that follows lines up
// on its own.
func (w *prefixWriter) flush() {
	w.tw.Flush()
}

func (w *prefixWriter) String() string {
	w.tw.Flush()
	return w.buf.String()
}

// labels prints a map one "key=value" per line, sorted, or <none>.
func (w *prefixWriter) labels(level int, title string, m map[string]string) {
	w.write(level, "%s:\t", title)
	if len(m) == 0 {
		w.write(0, "<none>\n")
		return
	}
	for i, k := range sortedMapKeys(m) {
		if i > 0 {
			w.write(level, "\t")
		}
		w.write(0, "%s=%s\n", k, m[k])
	}
}

// resourceList prints quantities one "name:\tvalue" per line.
func (w *prefixWriter) resourceList(level int, title string, m map[string]string) {
	if len(m) == 0 {
		w.write(level, "%s:\t<none>\n", title)
		return
	}
	w.write(level, "%s:\n", title)
	for _, k := range sortedMapKeys(m) {
		w.write(level+1, "%s:\t%s\n", k, m[k])
	}
}

// events prints the Events table, or "Events: <none>".
func (w *prefixWriter) events(d describer, events []*api.Event) {
	if len(events) == 0 {
		w.write(0, "Events:\t<none>\n")
		return
	}
	w.flush()
	w.write(0, "Events:\n")
	w.write(1, "Type\tReason\tAge\tFrom\tMessage\n")
	w.write(1, "----\t------\t----\t----\t-------\n")
	for _, e := range events {
		first := e.GetFirstTimestamp()
		if first == nil {
			first = e.GetLastTimestamp()
		}
		interval := age(first, d.now)
		if e.GetCount() > 1 && e.GetLastTimestamp() != nil {
			interval = fmt.Sprintf("%s (x%d over %s)", age(e.GetLastTimestamp(), d.now), e.GetCount(), age(first, d.now))
		}
		w.write(1, "%s\t%s\t%s\t%s\t%s\n", e.GetType(), e.GetReason(), interval, eventSource(e), strings.TrimSpace(e.GetMessage()))
	}
}

// eventSource names who reported an event. The schema has no source field
// yet, so it is inferred from the kind of object the event is about.
func eventSource(e *api.Event) string {
	switch strings.ToLower(e.GetInvolvedObject().GetKind()) {
	case api.JobResource.Singular:
		return "job-controller"
	case api.CronJobResource.Singular:
		return "cronjob-controller"
	case api.NodeResource.Singular:
		return "node-controller"
	default:
		return "jobcluster"
	}
}

// controlledBy is "Kind/name" of the controlling owner, or empty.
func controlledBy(meta *api.ObjectMeta) string {
	refs := meta.GetOwnerReferences()
	for _, ref := range refs {
		if ref.GetController() {
			return ref.GetKind() + "/" + ref.GetName()
		}
	}
	if len(refs) > 0 {
		return refs[0].GetKind() + "/" + refs[0].GetName()
	}
	return ""
}

// namespace is metadata.namespace, "default" when unset.
func namespace(meta *api.ObjectMeta) string { return api.NamespaceOf(meta) }

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
