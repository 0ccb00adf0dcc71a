package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

type suspendOptions struct {
	suspend bool
}

func newSuspendCmd(copts *clientOptions) *cobra.Command {
	o := &suspendOptions{suspend: true}
	return &cobra.Command{
		Use:   "suspend (job|cronjob) NAME...",
		Short: "Suspend a Job (its running pods are stopped) or a CronJob (no new Jobs)",
		Example: `  jobcluster suspend job pi
  jobcluster suspend cronjob/hello`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, copts, args)
		},
	}
}

func newResumeCmd(copts *clientOptions) *cobra.Command {
	o := &suspendOptions{suspend: false}
	return &cobra.Command{
		Use:   "resume (job|cronjob) NAME...",
		Short: "Resume a suspended Job or CronJob",
		Example: `  jobcluster resume job pi
  jobcluster resume cronjob/hello`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, copts, args)
		},
	}
}

// run reads each object, sets spec.suspend and applies it back.
func (o *suspendOptions) run(cmd *cobra.Command, copts *clientOptions, args []string) error {
	r, names, err := parseResourceArgs(args, api.JobResource, api.CronJobResource)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("resource(s) were provided, but no name was specified")
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		return o.setAll(ctx, cmd, c, r, names)
	})
}

// setAll sets spec.suspend on each named object of kind r, going on after
// a refusal.
func (o *suspendOptions) setAll(ctx context.Context, cmd *cobra.Command, c *client, r *api.Resource, names []string) error {
	verb := "suspended"
	if !o.suspend {
		verb = "resumed"
	}
	var refused []error
	for _, name := range names {
		res, err := o.setSuspend(ctx, c, r, name)
		var se *serverError
		switch {
		case errors.As(err, &se):
			refused = append(refused, err)
		case err != nil:
			return err
		case res.GetError() != "":
			refused = append(refused, resultError(res.GetCode(), res.GetError()))
		case res.GetAction() == "unchanged":
			fmt.Fprintf(cmd.OutOrStdout(), "%s/%s %s (no change)\n", r.GroupKind(), name, verb)
		default:
			fmt.Fprintf(cmd.OutOrStdout(), "%s/%s %s\n", r.GroupKind(), name, verb)
		}
	}
	return errors.Join(refused...)
}

// setSuspend applies the object with spec.suspend changed and returns the
// server's result for it.
func (o *suspendOptions) setSuspend(ctx context.Context, c *client, r *api.Resource, name string) (*api.SubmitResult, error) {
	obj, err := getObject(ctx, c, r, name)
	if err != nil {
		return nil, err
	}
	updated := proto.Clone(obj).(*api.Object)
	switch {
	case updated.GetJob() != nil:
		updated.GetJob().GetSpec().Suspend = proto.Bool(o.suspend)
		updated.GetJob().Status = nil
		updated.GetJob().GetMetadata().ResourceVersion = "" // a status change meanwhile is no conflict
	case updated.GetCronJob() != nil:
		updated.GetCronJob().GetSpec().Suspend = proto.Bool(o.suspend)
		updated.GetCronJob().Status = nil
		updated.GetCronJob().GetMetadata().ResourceVersion = ""
	default:
		return nil, fmt.Errorf("%s %q: the server answered with a %s", r.GroupResource(), name, api.KindOf(obj))
	}
	var resp *api.SubmitResponse
	err = c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		resp, err = cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{updated}, Apply: true, Namespace: c.namespace})
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(resp.GetResults()) != 1 {
		return nil, fmt.Errorf("apply %s/%s: the server answered with %d results", r.GroupKind(), name, len(resp.GetResults()))
	}
	return resp.GetResults()[0], nil
}
