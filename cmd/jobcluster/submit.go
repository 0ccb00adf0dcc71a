package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"

	"github.com/jobcluster/jobcluster/api"
)

type submitOptions struct {
	files []string
	wait  bool
}

func newSubmitCmd(copts *clientOptions) *cobra.Command {
	o := &submitOptions{}
	cmd := &cobra.Command{
		Use:   "submit FILE...",
		Short: "Create the Jobs and CronJobs of manifest files",
		Long: `Create the batch/v1 Jobs and CronJobs of manifest files, like kubectl create -f.

Every file is decoded and validated first: if any document is invalid,
nothing is created. An object whose name exists already is refused
(use apply to update). "-" reads standard input; a directory stands for its
.yaml, .yml and .json files.

With --wait the command then follows the Jobs until each has finished and
exits non-zero if one failed. The wait is unbounded unless --timeout is given.`,
		Example: `  jobcluster submit job.yaml
  cat jobs.yaml | jobcluster submit -
  jobcluster submit --wait pi.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := manifestArgs(o.files, args)
			if err != nil {
				return err
			}
			return runSubmit(cmd, copts, files, false, o.wait)
		},
	}
	addFilenameFlag(cmd, &o.files)
	cmd.Flags().BoolVar(&o.wait, "wait", false, "follow the submitted Jobs until they finish; exit non-zero if one failed")
	return cmd
}

// runSubmit creates (or with apply, creates or updates) the objects of
// files and prints one line per object.
func runSubmit(cmd *cobra.Command, copts *clientOptions, files []string, apply, wait bool) error {
	objs, err := readManifests(cmd.InOrStdin(), cmd.ErrOrStderr(), files)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		verb := "create"
		if apply {
			verb = "apply"
		}
		return fmt.Errorf("no objects passed to %s", verb)
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		return submitObjects(ctx, cmd, c, copts.timeout, objs, apply, wait)
	})
}

// submitObjects sends objs in one request, prints the outcome for each,
// and with wait follows the accepted Jobs until they finish; waitFor is
// how long the servers may stay out of reach meanwhile.
func submitObjects(ctx context.Context, cmd *cobra.Command, c *client, waitFor time.Duration, objs []*api.Object, apply, wait bool) error {
	var resp *api.SubmitResponse
	err := c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		resp, err = cl.Submit(ctx, &api.SubmitRequest{Objects: objs, Apply: apply, Namespace: c.rawNamespace})
		return err
	})
	if err != nil {
		return err
	}
	jobs, refused := printResults(cmd.OutOrStdout(), cmd.ErrOrStderr(), resp.GetResults())
	if c.mayHaveApplied {
		refused = madeByEarlierAttempt(resp.GetResults(), refused)
	}
	if !wait || len(jobs) == 0 {
		return errors.Join(refused...)
	}
	// The Jobs are followed in the namespace they went to (a manifest may
	// name its own when -n is not given).
	for _, res := range resp.GetResults() {
		if res.GetKind() == api.JobResource.Kind && res.GetError() == "" && res.GetNamespace() != "" {
			c.namespace = res.GetNamespace()
		}
	}
	if !timeoutSet(cmd) {
		ctx = cmd.Context()
	}
	w := &jobWaiter{client: c, out: cmd.OutOrStdout(), interval: waitInterval, unreachableFor: waitFor}
	return errors.Join(append(refused, w.wait(ctx, jobs))...)
}

// printResults prints one kubectl line per accepted object ("job.batch/pi
// created"), and its warnings to errOut as kubectl does, and returns the
// names of the accepted Jobs and the refusals.
func printResults(out, errOut io.Writer, results []*api.SubmitResult) (jobs []string, refused []error) {
	for _, res := range results {
		prefix := res.GetKind()
		r, err := parseResource(res.GetKind())
		if err == nil {
			prefix = r.GroupKind()
		}
		if res.GetError() != "" {
			refused = append(refused, resultError(res.GetCode(), res.GetError()))
			continue
		}
		action := res.GetAction()
		if action == "" {
			action = "created"
		}
		for _, w := range res.GetWarnings() {
			fmt.Fprintf(errOut, "Warning: %s/%s: %s\n", prefix, res.GetName(), w)
		}
		fmt.Fprintf(out, "%s/%s %s\n", prefix, res.GetName(), action)
		if r == api.JobResource {
			jobs = append(jobs, res.GetName())
		}
	}
	return jobs, refused
}

// madeByEarlierAttempt notes, on each AlreadyExists refusal, that the
// object may be the one an earlier attempt of the same command made when
// that attempt's outcome was lost with the leader. refused holds the
// refusals of results, in order.
func madeByEarlierAttempt(results []*api.SubmitResult, refused []error) []error {
	i := 0
	for _, res := range results {
		if res.GetError() == "" || i >= len(refused) {
			continue
		}
		if se, ok := refused[i].(*serverError); ok && res.GetCode() == codes.AlreadyExists.String() {
			se.message += " (an earlier attempt of this command, whose answer was lost when the leader changed, may have made it: check with `jobcluster get`)"
		}
		i++
	}
	return refused
}
