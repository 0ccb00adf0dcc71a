package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/api"
)

type createOptions struct {
	files []string
}

type createJobOptions struct {
	from  string
	force bool
}

func newCreateCmd(copts *clientOptions) *cobra.Command {
	o := &createOptions{}
	cmd := &cobra.Command{
		Use:   "create (-f FILE | job NAME --from=cronjob/CRONJOB)",
		Short: "Create objects from files, or a Job from a CronJob's template",
		Long: `Create the objects of manifest files (the same as submit), or run a CronJob
now by creating a Job from its jobTemplate.`,
		Example: `  jobcluster create -f job.yaml
  jobcluster create job hello-manual --from=cronjob/hello`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.files) == 0 {
				return errors.New(`must specify -f FILE, or "job NAME --from=cronjob/CRONJOB"`)
			}
			return runSubmit(cmd, copts, o.files, false, false)
		},
	}
	addFilenameFlag(cmd, &o.files)
	cmd.AddCommand(newCreateJobCmd(copts))
	return cmd
}

func newCreateJobCmd(copts *clientOptions) *cobra.Command {
	o := &createJobOptions{}
	cmd := &cobra.Command{
		Use:     "job NAME --from=cronjob/CRONJOB",
		Short:   "Create a Job from a CronJob's jobTemplate",
		Example: `  jobcluster create job hello-manual --from=cronjob/hello`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, copts, args[0])
		},
	}
	cmd.Flags().StringVar(&o.from, "from", "", "the CronJob to take the Job template from, as cronjob/NAME")
	cmd.Flags().BoolVar(&o.force, "force", false, "create the Job even when the CronJob is suspended or its concurrency policy would not start one now")
	return cmd
}

func (o *createJobOptions) run(cmd *cobra.Command, copts *clientOptions, name string) error {
	cron, err := parseFrom(o.from)
	if err != nil {
		return err
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		return o.create(ctx, cmd, c, cron, name)
	})
}

// create asks the servers to make Job name from the template of CronJob cron.
func (o *createJobOptions) create(ctx context.Context, cmd *cobra.Command, c *client, cron, name string) error {
	var resp *api.SubmitResponse
	err := c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		resp, err = cl.CreateJobFromCron(ctx, &api.CreateJobFromCronRequest{CronJob: cron, JobName: name, Force: o.force, Namespace: c.namespace})
		return err
	})
	if err != nil {
		return err
	}
	_, refused := printResults(cmd.OutOrStdout(), resp.GetResults())
	return errors.Join(refused...)
}

// parseFrom reads --from=cronjob/NAME (any alias of cronjob).
func parseFrom(from string) (string, error) {
	if from == "" {
		return "", errors.New("--from=cronjob/NAME is required")
	}
	kind, name, ok := strings.Cut(from, "/")
	r, err := parseResource(kind)
	if !ok || name == "" || err != nil || r != api.CronJobResource {
		return "", fmt.Errorf("from must be an existing cronjob, given as cronjob/NAME: %q", from)
	}
	return name, nil
}
