package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

type getOptions struct {
	output        string
	selector      string
	fieldSelector string
	allNamespaces bool
	showLabels    bool
	labelColumns  []string
	sortBy        string
	watch         bool
	watchOnly     bool
	noHeaders     bool
	chunkSize     int64
}

func newGetCmd(copts *clientOptions) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get (jobs|pods|cronjobs|nodes|events) [NAME...]",
		Short: "Display jobs, pods, cronjobs, nodes or events",
		Long: `Display one or many objects as a table, or in the Kubernetes JSON or YAML shape.

Kinds take kubectl's aliases (job, jobs, job.batch; cronjob, cj; pod, po;
node, no) and the KIND/NAME form.`,
		Example: `  jobcluster get jobs
  jobcluster get pods -l job-name=pi -o wide
  jobcluster get job pi -o json
  jobcluster get cj`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.noHeaders && (o.output == "" || o.output == outputWide || strings.HasPrefix(o.output, "custom-columns=")) {
				cmd.SetOut(&headerDropper{w: cmd.OutOrStdout()})
			}
			return o.run(cmd, copts, args)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: wide, json, yaml, name, jsonpath=TEMPLATE or custom-columns=NAME:PATH,...")
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "label selector to filter on, e.g. -l job-name=pi,app=x")
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the objects of every namespace, with a NAMESPACE column")
	cmd.Flags().StringVar(&o.fieldSelector, "field-selector", "", "field selector to filter on, e.g. status.phase=Running,spec.nodeName=a1 (metadata.name, metadata.namespace, and per kind spec.nodeName, status.phase, involvedObject.name, ...)")
	cmd.Flags().BoolVar(&o.showLabels, "show-labels", false, "add a LABELS column with every label")
	cmd.Flags().StringSliceVarP(&o.labelColumns, "label-columns", "L", nil, "add a column with the value of each of these labels")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "after listing, print each change of the objects as it happens (until Ctrl-C or --timeout)")
	cmd.Flags().BoolVar(&o.watchOnly, "watch-only", false, "print only the changes, not the first list")
	cmd.Flags().Int64Var(&o.chunkSize, "chunk-size", listChunk, "list in pages of this many objects, as kubectl; 0 lists them in one call")
	cmd.Flags().BoolVar(&o.noHeaders, "no-headers", false, "print tables and custom columns without their header line")
	cmd.Flags().StringVar(&o.sortBy, "sort-by", "", "sort by the value at this JSONPath, e.g. .metadata.creationTimestamp or '{.status.startTime}'")
	return cmd
}

func (o *getOptions) run(cmd *cobra.Command, copts *clientOptions, args []string) error {
	if err := checkOutput(o.output, outputTable, outputWide, outputJSON, outputYAML, outputName); err != nil {
		return err
	}
	r, names, err := parseResourceArgs(args, api.JobResource, api.PodResource, api.CronJobResource, api.NodeResource, api.EventResource, api.ConfigMapResource, api.SecretResource)
	if err != nil {
		return err
	}
	if len(names) > 0 && (o.selector != "" || o.fieldSelector != "") {
		return errors.New("name cannot be provided when a selector is specified")
	}
	if o.chunkSize < 0 {
		return fmt.Errorf("--chunk-size: %d is negative; give 0 to list in one call or a page size such as %d", o.chunkSize, listChunk)
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		c.listChunk = o.chunkSize
		return o.show(ctx, cmd, c, r, names)
	})
}

// show prints the named objects of kind r, or all those the selector
// matches when no name is given.
func (o *getOptions) show(ctx context.Context, cmd *cobra.Command, c *client, r *api.Resource, names []string) error {
	sc := scope{namespace: c.namespace, all: o.allNamespaces, showLabels: o.showLabels, labelColumns: o.labelColumns}
	if len(names) == 0 {
		req := &api.ListRequest{Kind: r.Singular, LabelSelector: o.selector, FieldSelector: o.fieldSelector, Namespace: c.namespace}
		if o.allNamespaces {
			req.Namespace = ""
		}
		if o.watch || o.watchOnly {
			return o.watchList(ctx, cmd, c, r, req, sc)
		}
		if o.sortBy == "" && r != api.EventResource && (o.output == outputTable || o.output == outputWide || o.output == outputName) {
			return printListed(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), c, r, req, o.output, sc)
		}
		objs, err := listObjects(ctx, c, req)
		if err != nil {
			return err
		}
		if o.sortBy != "" {
			if err := sortByPath(objs, o.sortBy); err != nil {
				return err
			}
		}
		return printObjects(cmd.OutOrStdout(), cmd.ErrOrStderr(), r, objs, o.output, false, time.Now(), sc)
	}
	objs, missing, err := getNamed(ctx, c, r, names)
	if err != nil {
		return err
	}
	if o.sortBy != "" {
		if err := sortByPath(objs, o.sortBy); err != nil {
			return err
		}
	}
	if len(objs) > 0 {
		if err := printObjects(cmd.OutOrStdout(), cmd.ErrOrStderr(), r, objs, o.output, len(names) == 1, time.Now(), sc); err != nil {
			return err
		}
	}
	return errors.Join(missing...)
}

// getObject reads one object from any server.
func getObject(ctx context.Context, c *client, r *api.Resource, name string) (*api.Object, error) {
	var obj *api.Object
	err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		obj, err = cl.Get(ctx, &api.GetRequest{Kind: r.Singular, Name: name, Namespace: c.namespace})
		return err
	})
	return obj, err
}

// getNamed reads the named objects. Those the server refuses (not found)
// are returned as missing, so the others can still be shown; err is set
// only when no server could answer.
func getNamed(ctx context.Context, c *client, r *api.Resource, names []string) (objs []*api.Object, missing []error, err error) {
	for _, name := range names {
		obj, err := getObject(ctx, c, r, name)
		var se *serverError
		switch {
		case errors.As(err, &se):
			missing = append(missing, err)
		case err != nil:
			return nil, nil, err
		default:
			objs = append(objs, obj)
		}
	}
	return objs, missing, nil
}

// listChunk is how many objects one List call asks for unless told
// otherwise, kubectl's default: a list of 100,000 Jobs is then 200 calls,
// each well within attemptTimeout, and no server builds an answer of
// them all at once.
const listChunk = 500

// listObjects reads a list from any server, in pages of c.listChunk,
// ordered by namespace and name (events by time). The request names its
// namespace, empty for all.
func listObjects(ctx context.Context, c *client, req *api.ListRequest) ([]*api.Object, error) {
	items, _, err := listPages(ctx, c, req)
	if err != nil {
		return nil, err
	}
	if req.GetKind() == api.EventResource.Singular {
		sortEvents(items)
		return items, nil
	}
	slices.SortStableFunc(items, func(a, b *api.Object) int {
		ma, mb := api.MetadataOf(a), api.MetadataOf(b)
		return compareNamed(ma.GetNamespace(), ma.GetName(), mb.GetNamespace(), mb.GetName())
	})
	return items, nil
}

// compareNamed is the order get lists objects in: by namespace, then name.
func compareNamed(aNamespace, aName, bNamespace, bName string) int {
	return cmp.Or(strings.Compare(aNamespace, bNamespace), strings.Compare(aName, bName))
}

// printListed prints a list of objects of kind r as a table or names, as
// printObjects does the same objects listed by listObjects, but keeps of
// each page only its rows: a list of 100,000 Jobs then holds 100,000 rows
// of a few words, not 100,000 decoded Jobs.
func printListed(ctx context.Context, out, errOut io.Writer, c *client, r *api.Resource, req *api.ListRequest, format string, sc scope) error {
	type line struct {
		namespace, name string
		cells           []string
	}
	var (
		header []string
		lines  []line
		listed int
	)
	now := time.Now()
	_, err := eachPage(ctx, c, req, func(page []*api.Object, whole bool) {
		if whole {
			lines, listed = nil, 0
		}
		listed += len(page)
		if format == outputName {
			for _, obj := range page {
				md := api.MetadataOf(obj)
				lines = append(lines, line{md.GetNamespace(), md.GetName(), []string{nameLine(r, obj)}})
			}
			return
		}
		page = slices.DeleteFunc(page, func(obj *api.Object) bool { return api.ResourceOf(obj) != r || printers[r].row == nil })
		var rows [][]string
		header, rows = tableOf(r, page, now, format == outputWide, sc)
		for i, obj := range page {
			md := api.MetadataOf(obj)
			lines = append(lines, line{md.GetNamespace(), md.GetName(), rows[i]})
		}
	})
	if err != nil {
		return err
	}
	if listed == 0 {
		return printNoResources(errOut, r, sc)
	}
	slices.SortStableFunc(lines, func(a, b line) int { return compareNamed(a.namespace, a.name, b.namespace, b.name) })
	return buffered(out, func(out io.Writer) error {
		if format == outputName {
			for _, l := range lines {
				if _, err := fmt.Fprintln(out, l.cells[0]); err != nil {
					return fmt.Errorf("print names: %w", err)
				}
			}
			return nil
		}
		rows := make([][]string, len(lines))
		for i, l := range lines {
			rows[i] = l.cells
		}
		return writeTable(out, header, rows)
	})
}

// listPages reads a list in pages of c.listChunk, each from any server,
// and returns the first page's index, the one to watch from. Each page
// reads the state of its time: an object appears at most once, and one
// created or deleted while paging may or may not appear.
func listPages(ctx context.Context, c *client, req *api.ListRequest) ([]*api.Object, uint64, error) {
	var items []*api.Object
	index, err := eachPage(ctx, c, req, func(page []*api.Object, whole bool) {
		if whole {
			items = nil
		}
		items = append(items, page...)
	})
	if err != nil {
		return nil, 0, err
	}
	return items, index, nil
}

// eachPage reads a list as listPages does and hands each page to take as
// it comes. whole says the page is the whole list, answered by a server of
// an earlier release that ignores limit: what came before it is to be
// forgotten.
func eachPage(ctx context.Context, c *client, req *api.ListRequest, take func(page []*api.Object, whole bool)) (uint64, error) {
	req = proto.CloneOf(req)
	req.Limit = c.listChunk
	var index uint64
	for first := true; ; first = false {
		var resp *api.ListResponse
		err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
			var err error
			resp, err = cl.List(ctx, req)
			return err
		})
		if err != nil {
			return 0, err
		}
		if first {
			index = resp.GetIndex()
		}
		if req.Limit > 0 && int64(len(resp.GetItems())) > req.Limit {
			take(resp.GetItems(), true)
			return resp.GetIndex(), nil
		}
		take(resp.GetItems(), false)
		if resp.GetContinue() == "" {
			return index, nil
		}
		req.Continue = resp.GetContinue()
	}
}

// sortEvents orders events by when they last happened, oldest first.
func sortEvents(items []*api.Object) {
	when := func(o *api.Object) time.Time {
		e := o.GetEvent()
		if t := e.GetLastTimestamp(); t != nil {
			return t.AsTime()
		}
		return e.GetFirstTimestamp().AsTime()
	}
	sort.SliceStable(items, func(i, j int) bool { return when(items[i]).Before(when(items[j])) })
}

// headerDropper drops the first line written through it: the header of
// the table under --no-headers.
type headerDropper struct {
	w       io.Writer
	dropped bool
}

func (d *headerDropper) Write(p []byte) (int, error) {
	n := len(p)
	if !d.dropped {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return n, nil
		}
		d.dropped = true
		p = p[i+1:]
	}
	if _, err := d.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}
