package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
)

type deleteOptions struct {
	files    []string
	all      bool
	selector string
}

func newDeleteCmd(copts *clientOptions) *cobra.Command {
	o := &deleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete (-f FILE | (job|cronjob|pod|node) (NAME... | --all | -l SELECTOR))",
		Short: "Delete jobs, cronjobs, pods or nodes",
		Long: `Delete objects by name, by label, all of a kind (--all), or those a manifest
file names (-f). Deleting a Job deletes its pods; deleting a CronJob
deletes its Jobs and their pods. Deleting a node forgets an agent that is
gone for good.`,
		Example: `  jobcluster delete job pi
  jobcluster delete cronjob/hello
  jobcluster delete -f job.yaml
  jobcluster delete jobs -l app=batch
  jobcluster delete jobs --all -n team-a`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, copts, args)
		},
	}
	addFilenameFlag(cmd, &o.files)
	cmd.Flags().BoolVar(&o.all, "all", false, "delete every object of the kind in the namespace")
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "delete the objects whose labels match, e.g. -l app=batch")
	return cmd
}

func (o *deleteOptions) run(cmd *cobra.Command, copts *clientOptions, args []string) error {
	if len(o.files) > 0 {
		if len(args) > 0 || o.all || o.selector != "" {
			return errors.New("with -f, give no kind, name, --all or -l: the file names the objects")
		}
		objs, err := readManifests(cmd.InOrStdin(), io.Discard, o.files)
		if err != nil {
			return err
		}
		return copts.withClient(cmd, func(ctx context.Context, c *client) error {
			var refused []error
			for _, obj := range objs {
				r := api.ResourceOf(obj)
				ns := api.MetadataOf(obj).GetNamespace()
				if ns == "" {
					ns = c.namespace
				}
				if err := deleteNames(ctx, cmd, c.in(ns), r, []string{api.NameOf(obj)}); err != nil {
					refused = append(refused, err)
				}
			}
			return errors.Join(refused...)
		})
	}
	if len(args) == 0 {
		return errors.New("you must provide one or more resources by argument or filename (-f)")
	}
	r, names, err := parseResourceArgs(args, api.JobResource, api.CronJobResource, api.PodResource, api.NodeResource, api.ConfigMapResource, api.SecretResource)
	if err != nil {
		return withFileHint(err, args[0])
	}
	switch {
	case len(names) > 0 && (o.all || o.selector != ""):
		return errors.New("name cannot be provided when a selector or --all is specified")
	case len(names) == 0 && !o.all && o.selector == "":
		return errors.New("resource(s) were provided, but no name was specified")
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		if len(names) == 0 {
			objs, err := listObjects(ctx, c, &api.ListRequest{Kind: r.Singular, LabelSelector: o.selector, Namespace: c.namespace})
			if err != nil {
				return err
			}
			if len(objs) == 0 {
				return printNoResources(cmd.ErrOrStderr(), r, scope{namespace: c.namespace})
			}
			for _, obj := range objs {
				names = append(names, api.NameOf(obj))
			}
		}
		return deleteNames(ctx, cmd, c, r, names)
	})
}

// withFileHint adds, to an unknown kind that looks like a path, the hint
// to pass files with -f.
func withFileHint(err error, arg string) error {
	ext := strings.ToLower(filepath.Ext(arg))
	if ext == ".yaml" || ext == ".yml" || ext == ".json" || strings.HasPrefix(arg, ".") || strings.HasPrefix(arg, "/") {
		return fmt.Errorf("%w (to use the objects of the file %s, pass it with -f %s)", err, arg, arg)
	}
	return err
}

// deleteNames deletes each named object of kind r, going on after a refusal.
func deleteNames(ctx context.Context, cmd *cobra.Command, c *client, r *api.Resource, names []string) error {
	var refused []error
	for _, name := range names {
		// An attempt that timed out may have deleted the object after
		// all: "not found" on a later attempt then means deleted.
		outcomeUnknown := false
		err := c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
			_, err := cl.Delete(ctx, &api.DeleteRequest{Kind: r.Singular, Name: name, Namespace: c.namespace})
			switch st := status.Convert(err); st.Code() {
			case codes.DeadlineExceeded:
				outcomeUnknown = true
			case codes.Unavailable:
				// Refused connections and "no leader" mean the delete
				// was never proposed; a leader lost while proposing
				// leaves it unknown.
				outcomeUnknown = outcomeUnknown || strings.Contains(st.Message(), "leadership lost")
			case codes.NotFound:
				if outcomeUnknown {
					return nil
				}
			}
			return err
		})
		var se *serverError
		switch {
		case errors.As(err, &se):
			refused = append(refused, err)
		case err != nil:
			return err
		default:
			fmt.Fprintf(cmd.OutOrStdout(), "%s %q deleted\n", r.GroupKind(), name)
		}
	}
	return errors.Join(refused...)
}
