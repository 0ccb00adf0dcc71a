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
	image string
}

type createCronJobOptions struct {
	image    string
	schedule string
	restart  string
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
	cmd.AddCommand(newCreateJobCmd(copts), newCreateCronJobCmd(copts), newCreateConfigMapCmd(copts), newCreateSecretCmd(copts))
	return cmd
}

// imageContainer is the one container kubectl's create job and create
// cronjob make: named after the object, the image, and the command given
// after "--".
func imageContainer(name, image string, command []string) *api.Container {
	return &api.Container{Name: name, Image: image, Command: command}
}

// submitCreated submits one object made from flags and prints kubectl's
// "job.batch/NAME created".
func submitCreated(cmd *cobra.Command, copts *clientOptions, obj *api.Object) error {
	api.SetDefaults(obj)
	if err := api.Validate(obj); err != nil {
		return fmt.Errorf("%s %q is invalid: %w", api.ResourceOf(obj).Kind, api.NameOf(obj), err)
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		return submitObjects(ctx, cmd, c, copts.timeout, []*api.Object{obj}, false, false)
	})
}

func newCreateCronJobCmd(copts *clientOptions) *cobra.Command {
	o := &createCronJobOptions{}
	cmd := &cobra.Command{
		Use:     "cronjob NAME --image=IMAGE --schedule='0/5 * * * ?' [-- COMMAND [ARGS...]]",
		Aliases: []string{"cj"},
		Short:   "Create a CronJob that runs one container",
		Example: `  jobcluster create cronjob tick --image=busybox --schedule="*/1 * * * *" -- date`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, command := args[0], args[1:]
			if o.image == "" || o.schedule == "" {
				return errors.New("--image and --schedule are required")
			}
			cj := &api.CronJob{
				ApiVersion: "batch/v1", Kind: "CronJob",
				Metadata: &api.ObjectMeta{Name: name},
				Spec: &api.CronJobSpec{Schedule: o.schedule, JobTemplate: &api.JobTemplateSpec{
					Metadata: &api.ObjectMeta{Name: name},
					Spec: &api.JobSpec{Template: &api.PodTemplateSpec{Spec: &api.PodSpec{
						RestartPolicy: o.restart, Containers: []*api.Container{imageContainer(name, o.image, command)},
					}}},
				}},
			}
			return submitCreated(cmd, copts, &api.Object{Kind: &api.Object_CronJob{CronJob: cj}})
		},
	}
	cmd.Flags().StringVar(&o.image, "image", "", "image of the container")
	cmd.Flags().StringVar(&o.schedule, "schedule", "", "cron schedule of the CronJob")
	cmd.Flags().StringVar(&o.restart, "restart", api.RestartPolicyOnFailure, "restartPolicy of its pods: OnFailure or Never")
	return cmd
}

func newCreateJobCmd(copts *clientOptions) *cobra.Command {
	o := &createJobOptions{}
	cmd := &cobra.Command{
		Use:   "job NAME (--from=cronjob/CRONJOB | --image=IMAGE [-- COMMAND [ARGS...]])",
		Short: "Create a Job from a CronJob's jobTemplate, or one running an image",
		Example: `  jobcluster create job hello-manual --from=cronjob/hello
  jobcluster create job hello --image=busybox -- echo hello`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.image != "" {
				if o.from != "" {
					return errors.New("give either --image or --from, not both")
				}
				job := &api.Job{
					ApiVersion: "batch/v1", Kind: "Job",
					Metadata: &api.ObjectMeta{Name: args[0]},
					Spec: &api.JobSpec{Template: &api.PodTemplateSpec{Spec: &api.PodSpec{
						RestartPolicy: api.RestartPolicyNever, Containers: []*api.Container{imageContainer(args[0], o.image, args[1:])},
					}}},
				}
				return submitCreated(cmd, copts, &api.Object{Kind: &api.Object_Job{Job: job}})
			}
			if len(args) > 1 {
				return errors.New("a command after -- needs --image")
			}
			return o.run(cmd, copts, args[0])
		},
	}
	cmd.Flags().StringVar(&o.image, "image", "", "image of the Job's one container (its command follows --)")
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
	_, refused := printResults(cmd.OutOrStdout(), cmd.ErrOrStderr(), resp.GetResults())
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
