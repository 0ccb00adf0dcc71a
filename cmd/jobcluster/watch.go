package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
)

// watchList is get -w: the list (unless --watch-only), then a row for each
// change, as kubectl prints them, following across server changes: a lost
// stream is watched again from the last change seen, and a watch too old
// to resume lists again.
func (o *getOptions) watchList(ctx context.Context, cmd *cobra.Command, c *client, r *api.Resource, req *api.ListRequest, sc scope) error {
	if !timeoutSet(cmd) {
		ctx = cmd.Context()
	}
	out := cmd.OutOrStdout()
	bw := bufio.NewWriterSize(out, outputBuffer)
	tw := tabwriter.NewWriter(bw, 0, 8, 3, ' ', 0)
	header := true
	printRows := func(objs []*api.Object) error {
		switch o.output {
		case outputJSON, outputYAML, outputName:
			return printObjects(out, cmd.ErrOrStderr(), r, objs, o.output, true, time.Now(), sc)
		}
		if len(objs) == 0 {
			return nil
		}
		h, rows := table(r, objs, time.Now(), o.output == outputWide)
		if sc.all && r.Namespaced {
			h = append([]string{"NAMESPACE"}, h...)
			for i, obj := range objs {
				rows[i] = append([]string{api.NamespaceOf(api.MetadataOf(obj))}, rows[i]...)
			}
		}
		if header {
			fmt.Fprintln(tw, strings.Join(h, "\t"))
			header = false
		}
		for _, row := range rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return bw.Flush()
	}
	var from uint64
	list := func() error {
		// Watching from the first page's index, the watch replays what
		// changed while the later pages were read.
		items, index, err := listPages(ctx, c, req)
		if err != nil {
			return err
		}
		from = index
		if o.watchOnly {
			return nil
		}
		sortByName(items)
		return printRows(items)
	}
	if err := list(); err != nil {
		return err
	}
	for {
		err := c.openStream(ctx, func(ctx context.Context, cl api.ControlClient) error {
			s, err := cl.Watch(ctx, &api.WatchRequest{Kind: req.GetKind(), Namespace: req.GetNamespace(), LabelSelector: req.GetLabelSelector(),
				FieldSelector: req.GetFieldSelector(), ResourceVersion: from, AllowBookmarks: true})
			if err != nil {
				return err
			}
			for {
				ev, err := s.Recv()
				if err != nil {
					return err
				}
				from = max(from, ev.GetIndex())
				if ev.GetType() == "BOOKMARK" {
					continue
				}
				if err := printRows([]*api.Object{ev.GetObject()}); err != nil {
					return err
				}
			}
		})
		switch {
		case ctx.Err() != nil:
			return nil // Ctrl-C or --timeout: the watch simply ends
		case status.Code(err) == codes.OutOfRange:
			o.watchOnly = true // a fresh list would print old rows again
			if err := list(); err != nil {
				return err
			}
		case errors.Is(err, io.EOF), err == nil:
		default:
			var se *serverError
			if errors.As(err, &se) {
				return err
			}
			select { // no server reachable: try again shortly
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}

// sortByName orders a watch's first list by store key.
func sortByName(items []*api.Object) {
	slices.SortStableFunc(items, func(a, b *api.Object) int { return strings.Compare(keyOf(a), keyOf(b)) })
}

func keyOf(o *api.Object) string { return api.KeyOf(api.MetadataOf(o)) }
