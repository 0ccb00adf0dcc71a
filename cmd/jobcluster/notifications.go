package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/notify"
)

// notifyFlags are a server's webhooks.
type notifyFlags struct {
	webhooks     []string
	secretFile   string
	configFile   string
	pendingAfter time.Duration
}

func (f *notifyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.webhooks, "notify-webhook", nil, "URL the leader POSTs every notification to (Job failed or stuck Pending, CronJob run skipped, missed or failed, node not Ready); repeatable")
	cmd.Flags().StringVar(&f.secretFile, "notify-secret-file", "", "file holding the secret that signs every --notify-webhook's body (X-Jobcluster-Signature: sha256=<HMAC>)")
	cmd.Flags().StringVar(&f.configFile, "notify-config", "", "YAML file of webhooks, each with its url, optional secretFile and events filter (see README, Webhooks)")
	cmd.Flags().DurationVar(&f.pendingAfter, "notify-pending-after", 10*time.Minute, "announce a Job whose pod has waited this long for a node (JobPending); 0 never")
}

// targets checks the flags, reads the config file and the secrets, and
// lists the webhooks: those of --notify-webhook first, each told of every
// event and signed with --notify-secret-file's secret.
func (f *notifyFlags) targets() ([]notify.Target, error) {
	if f.pendingAfter < 0 {
		return nil, fmt.Errorf("--notify-pending-after %s: want a positive duration such as 10m, or 0 to never announce a Job stuck Pending", f.pendingAfter)
	}
	var secret []byte
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--notify-secret-file: %w", err)
		}
		if secret = notify.TrimSecret(b); len(secret) == 0 {
			return nil, fmt.Errorf("--notify-secret-file %s is empty: write the secret into it", f.secretFile)
		}
		if len(f.webhooks) == 0 {
			return nil, errors.New("--notify-secret-file needs at least one --notify-webhook; a --notify-config webhook takes its own secretFile")
		}
	}
	var out []notify.Target
	for _, w := range f.webhooks {
		if err := notify.CheckURL("--notify-webhook", w); err != nil {
			return nil, err
		}
		out = append(out, notify.Target{URL: w, Secret: secret})
	}
	if f.configFile == "" {
		return out, nil
	}
	data, err := os.ReadFile(f.configFile)
	if err != nil {
		return nil, fmt.Errorf("--notify-config: %w", err)
	}
	// A relative secretFile is beside the config file, wherever the
	// server was started from.
	dir := filepath.Dir(f.configFile)
	fromFile, err := notify.ParseConfig("--notify-config "+f.configFile, data, func(path string) ([]byte, error) {
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		return os.ReadFile(path)
	})
	if err != nil {
		return nil, err
	}
	for i, t := range fromFile {
		for _, o := range out {
			if o.URL == t.URL {
				return nil, fmt.Errorf("--notify-config %s: webhooks[%d].url %q is also a --notify-webhook: give it once, in the file to pick its events and secret", f.configFile, i, t.URL)
			}
		}
	}
	return append(out, fromFile...), nil
}

func newNotificationsCmd(copts *clientOptions) *cobra.Command {
	var output string
	var limit int32
	var undelivered bool
	cmd := &cobra.Command{
		Use:   "notifications [--undelivered] [--limit N] [-o json]",
		Short: "List the notifications announced to webhooks and how their delivery went",
		Long: `List the servers' notifications, newest first: Jobs that failed (or, when
their annotation asks, completed), Jobs stuck Pending, CronJob runs
skipped, missed or failed, nodes that stopped being Ready; with, for each
webhook, whether it took it, the attempts and the last error.
--undelivered lists those some webhook that asks for their event has not
taken yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outputTable, outputJSON); err != nil {
				return err
			}
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				var resp *api.NotificationsResponse
				err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
					var err error
					resp, err = cl.Notifications(ctx, &api.NotificationsRequest{Limit: limit, UndeliveredOnly: undelivered})
					return err
				})
				if err != nil {
					return err
				}
				if output == outputJSON {
					items := make([]proto.Message, len(resp.GetItems()))
					for i, n := range resp.GetItems() {
						items[i] = n
					}
					data, err := api.MarshalListJSON(items)
					if err != nil {
						return err
					}
					return writeWithNewline(cmd.OutOrStdout(), data)
				}
				if len(resp.GetItems()) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), "No notifications.")
					return nil
				}
				var rows [][]string
				now := time.Now()
				for _, n := range resp.GetItems() {
					object := strings.ToLower(n.GetKind()) + "/" + n.GetName()
					if n.GetNamespace() != "" {
						object = n.GetNamespace() + "/" + object
					}
					rows = append(rows, []string{age(n.GetTime(), now), n.GetEvent(), object, deliveryText(n)})
				}
				return writeTable(cmd.OutOrStdout(), []string{"AGE", "EVENT", "OBJECT", "DELIVERY"}, rows)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	cmd.Flags().Int32Var(&limit, "limit", 100, "at most this many, newest first")
	cmd.Flags().BoolVar(&undelivered, "undelivered", false, "only those some webhook has not taken yet")
	return cmd
}

// deliveryText sums up a notification's deliveries.
func deliveryText(n *api.Notification) string {
	if len(n.GetDeliveries()) == 0 {
		return "pending"
	}
	var parts []string
	for _, d := range n.GetDeliveries() {
		switch {
		case d.GetDelivered():
			parts = append(parts, fmt.Sprintf("delivered (%d attempts)", d.GetAttempts()))
		case d.GetGaveUp():
			parts = append(parts, fmt.Sprintf("gave up after %d attempts: %s", d.GetAttempts(), d.GetLastError()))
		default:
			parts = append(parts, fmt.Sprintf("retrying (%d attempts): %s", d.GetAttempts(), d.GetLastError()))
		}
	}
	return strings.Join(parts, "; ")
}
