package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// describeHistory is how many decisions `describe cronjob` shows.
const describeHistory = 10

func newCronJobCmd(copts *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cronjob",
		Aliases: []string{"cj"},
		Short:   "CronJob records: the decision taken for every scheduled time",
	}
	var since time.Duration
	var limit int32
	var output string
	history := &cobra.Command{
		Use:   "history NAME [--since 24h] [--limit N] [-o json]",
		Short: "List the decision taken for each scheduled time of a CronJob, newest first",
		Long: `List the servers' ledger of a CronJob: for each scheduled time, what was
decided (Created, Skipped under concurrencyPolicy Forbid, Replaced, Missed
past startingDeadlineSeconds, Suspended, Withdrawn before its time by a
suspend), its Job and how that Job ended (Complete,
Failed, Running, or Deleted by the history limits). The newest 1,000
decisions of each CronJob are kept, replicated, until it is deleted.`,
		Example:           `  jobcluster cronjob history nightly --since 24h`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeNames(copts, api.CronJobResource),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outputTable, outputJSON); err != nil {
				return err
			}
			req := &api.CronHistoryRequest{Name: args[0], Limit: limit}
			if since > 0 {
				req.Since = timestamppb.New(time.Now().Add(-since))
			}
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				items, err := cronHistory(ctx, c, req)
				if err != nil {
					return err
				}
				if output == outputJSON {
					data, err := api.MarshalListJSON(ledgerMessages(items))
					if err != nil {
						return err
					}
					return writeWithNewline(cmd.OutOrStdout(), data)
				}
				if len(items) == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "No decisions recorded for cronjob %q.\n", args[0])
					return nil
				}
				return writeLedger(cmd.OutOrStdout(), items)
			})
		},
	}
	history.Flags().DurationVar(&since, "since", 0, "only decisions about scheduled times within this long, e.g. 24h")
	history.Flags().Int32Var(&limit, "limit", 0, "at most this many decisions (default all kept)")
	history.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	cmd.AddCommand(history)
	return cmd
}

func cronHistory(ctx context.Context, c *client, req *api.CronHistoryRequest) ([]*api.CronLedgerEntry, error) {
	req.Namespace = c.namespace
	var resp *api.CronHistoryResponse
	err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		resp, err = cl.CronHistory(ctx, req)
		return err
	})
	return resp.GetItems(), err
}

func ledgerMessages(items []*api.CronLedgerEntry) []proto.Message {
	out := make([]proto.Message, len(items))
	for i, e := range items {
		out[i] = e
	}
	return out
}

// writeLedger prints decisions as a table.
func writeLedger(out io.Writer, items []*api.CronLedgerEntry) error {
	header := []string{"SCHEDULED", "DECISION", "JOB", "OUTCOME", "DECIDED"}
	var rows [][]string
	for _, e := range items {
		scheduled := e.GetScheduledTime().AsTime()
		late := e.GetDecidedAt().AsTime().Sub(scheduled).Round(time.Millisecond)
		decided := "+" + late.String()
		if j := e.GetJitterMillis(); j > 0 {
			decided += fmt.Sprintf(" (jitter %s)", (time.Duration(j) * time.Millisecond).String())
		}
		rows = append(rows, []string{scheduled.UTC().Format(time.RFC3339), decisionText(e), orNone(e.GetJob()), orDash(e.GetJobOutcome()), decided})
	}
	return writeTable(out, header, rows)
}

// decisionText is a decision in words: what was done and why.
func decisionText(e *api.CronLedgerEntry) string {
	switch e.GetAction() {
	case "Skipped":
		if jobs := e.GetActiveJobs(); len(jobs) > 0 {
			return "Skipped: Forbid, " + strings.Join(jobs, ",") + " still active"
		}
		return "Skipped: Forbid"
	case "Replaced":
		return "Replaced " + strings.Join(e.GetReplacedJobs(), ",")
	case "Missed":
		return "Missed: past startingDeadlineSeconds"
	case "CaughtUp":
		return "Created, caught up after leader change"
	case "Withdrawn":
		return "Withdrawn: suspended before its time"
	}
	return e.GetAction()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// history prints a CronJob's last decisions in describe's layout.
func (d describer) history(w *prefixWriter, items []*api.CronLedgerEntry) {
	if len(items) == 0 {
		return
	}
	w.write(0, "Last Decisions:\n")
	w.write(1, "Scheduled\tDecision\tJob\tOutcome\n")
	w.write(1, "---------\t--------\t---\t-------\n")
	for _, e := range items {
		w.write(1, "%s\t%s\t%s\t%s\n", d.timestamp(e.GetScheduledTime()), decisionText(e), orNone(e.GetJob()), orDash(e.GetJobOutcome()))
	}
}
