package main

import "github.com/spf13/cobra"

type applyOptions struct {
	files []string
}

func newApplyCmd(copts *clientOptions) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply FILE...",
		Short: "Create or update the Jobs and CronJobs of manifest files",
		Long: `Create the objects of manifest files that do not exist yet and update those
that do, like kubectl apply -f. Prints created, configured or unchanged per
object.

Only mutable fields may change: for a Job parallelism, suspend,
activeDeadlineSeconds, backoffLimit and ttlSecondsAfterFinished; for a
CronJob schedule, timeZone, suspend, concurrencyPolicy,
startingDeadlineSeconds, the history limits and jobTemplate. Changing
anything else is refused with "field is immutable".`,
		Example: `  jobcluster apply job.yaml
  jobcluster apply -f cronjobs/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := manifestArgs(o.files, args)
			if err != nil {
				return err
			}
			return runSubmit(cmd, copts, files, true, false)
		},
	}
	addFilenameFlag(cmd, &o.files)
	return cmd
}
