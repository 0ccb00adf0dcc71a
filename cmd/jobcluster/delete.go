package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
)

type deleteOptions struct{}

func newDeleteCmd(copts *clientOptions) *cobra.Command {
	o := &deleteOptions{}
	return &cobra.Command{
		Use:   "delete (job|cronjob|pod|node) NAME...",
		Short: "Delete jobs, cronjobs, pods or nodes",
		Long: `Delete objects by name. Deleting a Job deletes its pods; deleting a CronJob
deletes its Jobs and their pods. Deleting a node forgets an agent that is
gone for good.`,
		Example: `  jobcluster delete job pi
  jobcluster delete cronjob/hello`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, copts, args)
		},
	}
}

func (o *deleteOptions) run(cmd *cobra.Command, copts *clientOptions, args []string) error {
	r, names, err := parseResourceArgs(args, api.JobResource, api.CronJobResource, api.PodResource, api.NodeResource)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("resource(s) were provided, but no name was specified")
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		return deleteNames(ctx, cmd, c, r, names)
	})
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
