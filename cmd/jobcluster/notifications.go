package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/notify"
)

// notifyFlags are a server's webhooks.
type notifyFlags struct {
	webhooks   []string
	secretFile string
}

func (f *notifyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.webhooks, "notify-webhook", nil, "URL the leader POSTs notifications to (Job failed, CronJob run skipped, missed or failed, node not Ready); repeatable")
	cmd.Flags().StringVar(&f.secretFile, "notify-secret-file", "", "file holding the secret that signs every webhook's body (X-Jobcluster-Signature: sha256=<HMAC>)")
}

// targets checks the flags and reads the secret.
func (f *notifyFlags) targets() ([]notify.Target, error) {
	var secret []byte
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--notify-secret-file: %w", err)
		}
		if secret = []byte(strings.TrimSpace(string(b))); len(secret) == 0 {
			return nil, fmt.Errorf("--notify-secret-file %s is empty", f.secretFile)
		}
	}
	var out []notify.Target
	for _, w := range f.webhooks {
		u, err := url.Parse(w)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--notify-webhook %q: want an http:// or https:// URL", w)
		}
		out = append(out, notify.Target{URL: w, Secret: secret})
	}
	if len(out) == 0 && f.secretFile != "" {
		return nil, errors.New("--notify-secret-file needs at least one --notify-webhook")
	}
	return out, nil
}

func newNotificationsCmd(copts *clientOptions) *cobra.Command {
	var output string
	var limit int32
	var undelivered bool
	cmd := &cobra.Command{
		Use:   "notifications [--undelivered] [--limit N] [-o json]",
		Short: "List the notifications announced to webhooks and how their delivery went",
		Long: `List the servers' notifications, newest first: Jobs that failed (or, when
their annotation asks, completed), CronJob runs skipped, missed or failed,
nodes that stopped being Ready; with, for each webhook, whether it took it,
the attempts and the last error.`,
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
