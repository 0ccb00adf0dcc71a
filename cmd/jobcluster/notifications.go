package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

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

// notifyConfig is the --notify-config file.
type notifyConfig struct {
	Webhooks []struct {
		URL        string   `json:"url"`
		SecretFile string   `json:"secretFile"`
		Events     []string `json:"events"`
	} `json:"webhooks"`
}

// readSecret reads a signing secret file.
func readSecret(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	secret := []byte(strings.TrimSpace(string(b)))
	if len(secret) == 0 {
		return nil, fmt.Errorf("%s %s is empty", flag, path)
	}
	return secret, nil
}

func checkWebhookURL(field, w string) error {
	u, err := url.Parse(w)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http:// or https:// URL", field, w)
	}
	return nil
}

// targets checks the flags and the config file and reads the secrets.
func (f *notifyFlags) targets() ([]notify.Target, error) {
	var secret []byte
	if f.secretFile != "" {
		var err error
		if secret, err = readSecret("--notify-secret-file", f.secretFile); err != nil {
			return nil, err
		}
	}
	var out []notify.Target
	for _, w := range f.webhooks {
		if err := checkWebhookURL("--notify-webhook", w); err != nil {
			return nil, err
		}
		out = append(out, notify.Target{URL: w, Secret: secret})
	}
	if len(out) == 0 && f.secretFile != "" {
		return nil, errors.New("--notify-secret-file needs at least one --notify-webhook")
	}
	if f.configFile == "" {
		return out, nil
	}
	data, err := os.ReadFile(f.configFile)
	if err != nil {
		return nil, fmt.Errorf("--notify-config: %w", err)
	}
	var cfg notifyConfig
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("--notify-config %s: %w", f.configFile, err)
	}
	if len(cfg.Webhooks) == 0 {
		return nil, fmt.Errorf("--notify-config %s: webhooks: no webhook listed", f.configFile)
	}
	for i, w := range cfg.Webhooks {
		field := fmt.Sprintf("--notify-config %s: webhooks[%d].url", f.configFile, i)
		if err := checkWebhookURL(field, w.URL); err != nil {
			return nil, err
		}
		t := notify.Target{URL: w.URL}
		if w.SecretFile != "" {
			if t.Secret, err = readSecret(fmt.Sprintf("--notify-config %s: webhooks[%d].secretFile", f.configFile, i), w.SecretFile); err != nil {
				return nil, err
			}
		}
		for j, e := range w.Events {
			if !slices.Contains(api.Events, e) {
				return nil, fmt.Errorf("--notify-config %s: webhooks[%d].events[%d]: unknown event %q: use one of %s", f.configFile, i, j, e, strings.Join(api.Events, ", "))
			}
		}
		t.Events = w.Events
		for _, o := range out {
			if o.URL == t.URL {
				return nil, fmt.Errorf("--notify-config %s: webhooks[%d].url %q is listed twice", f.configFile, i, w.URL)
			}
		}
		out = append(out, t)
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
