package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

func newACLCmd(copts *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acl",
		Short: "ACL tokens and policies (servers started with --acl)",
		Long: `Manage who may do what when the servers run with --acl.

A policy grants capabilities per namespace (read, submit, logs, secrets; "*"
for every namespace), node access (nodes: read or write) and the operator's
(operator: true: members, leave, ACLs, audit, notifications):

  namespaces:
    default: [read, submit, logs]
    "*": [read]
  nodes: read
  operator: false

A token holds policies; clients send its secret with --token or
JOBCLUSTER_TOKEN. acl bootstrap makes the first, all-powerful token, once.`,
	}
	cmd.AddCommand(newACLBootstrapCmd(copts), newACLPolicyCmd(copts), newACLTokenCmd(copts), newACLWhoamiCmd(copts))
	return cmd
}

func newACLBootstrapCmd(copts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "bootstrap",
		Short: "Make the management token, once; prints its secret",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				var resp *api.AclTokenSecret
				err := c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
					var err error
					resp, err = cl.AclBootstrap(ctx, &api.AclBootstrapRequest{})
					return err
				})
				if err != nil {
					return err
				}
				printToken(cmd, resp)
				return nil
			})
		},
	}
}

func printToken(cmd *cobra.Command, t *api.AclTokenSecret) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "AccessorID:   %s\n", t.GetToken().GetAccessorId())
	fmt.Fprintf(out, "SecretID:     %s\n", t.GetSecret())
	fmt.Fprintf(out, "Description:  %s\n", t.GetToken().GetDescription())
	if t.GetToken().GetManagement() {
		fmt.Fprintf(out, "Policies:     (management: everything)\n")
	} else {
		fmt.Fprintf(out, "Policies:     %s\n", strings.Join(t.GetToken().GetPolicies(), ", "))
	}
	if exp := t.GetToken().GetExpirationTime(); exp != nil {
		fmt.Fprintf(out, "Expires:      %s\n", exp.AsTime().UTC().Format(time.RFC3339))
	}
}

func newACLPolicyCmd(copts *clientOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Apply, list or delete ACL policies"}
	var description string
	apply := &cobra.Command{
		Use:   "apply NAME FILE",
		Short: "Create or replace a policy from a YAML file (- for stdin)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rules []byte
			var err error
			if args[1] == "-" {
				rules, err = readAll(cmd)
			} else {
				rules, err = os.ReadFile(args[1])
			}
			if err != nil {
				return fmt.Errorf("read policy: %w", err)
			}
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				err := c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
					_, err := cl.AclPolicyApply(ctx, &api.AclPolicyApplyRequest{Name: args[0], Rules: string(rules), Description: description})
					return err
				})
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "aclpolicy/%s applied\n", args[0])
				}
				return err
			})
		},
	}
	apply.Flags().StringVar(&description, "description", "", "what the policy is for")
	list := &cobra.Command{
		Use:   "list",
		Short: "List policies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				var resp *api.AclPolicyListResponse
				err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
					var err error
					resp, err = cl.AclPolicyList(ctx, &api.AclPolicyListRequest{})
					return err
				})
				if err != nil {
					return err
				}
				var rows [][]string
				for _, p := range resp.GetItems() {
					var grants []string
					for _, ns := range slices.Sorted(maps.Keys(p.GetNamespaces())) {
						grants = append(grants, ns+":"+strings.Join(p.GetNamespaces()[ns].GetCapabilities(), "+"))
					}
					if p.GetNodes() != "" {
						grants = append(grants, "nodes:"+p.GetNodes())
					}
					if p.GetOperator() {
						grants = append(grants, "operator")
					}
					rows = append(rows, []string{p.GetName(), orNone(strings.Join(grants, " ")), p.GetDescription()})
				}
				return writeTable(cmd.OutOrStdout(), []string{"NAME", "GRANTS", "DESCRIPTION"}, rows)
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a policy; tokens that hold it lose what it granted",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				err := c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
					_, err := cl.AclPolicyDelete(ctx, &api.AclPolicyDeleteRequest{Name: args[0]})
					return err
				})
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "aclpolicy/%s deleted\n", args[0])
				}
				return err
			})
		},
	}
	cmd.AddCommand(apply, list, del)
	return cmd
}

func newACLTokenCmd(copts *clientOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list or delete ACL tokens"}
	var policies []string
	var description string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create --policy P [--policy Q] [--ttl 720h] [--description TEXT]",
		Short: "Make a token holding policies; prints its secret, once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				var resp *api.AclTokenSecret
				err := c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
					var err error
					resp, err = cl.AclTokenCreate(ctx, &api.AclTokenCreateRequest{Policies: policies, Description: description, TtlSeconds: int64(ttl.Seconds())})
					return err
				})
				if err != nil {
					return err
				}
				printToken(cmd, resp)
				return nil
			})
		},
	}
	create.Flags().StringSliceVar(&policies, "policy", nil, "a policy the token holds (repeatable)")
	create.Flags().StringVar(&description, "description", "", "what the token is for; names it in denials and the audit trail")
	create.Flags().DurationVar(&ttl, "ttl", 0, "the token expires after this long (default never)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				var resp *api.AclTokenListResponse
				err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
					var err error
					resp, err = cl.AclTokenList(ctx, &api.AclTokenListRequest{})
					return err
				})
				if err != nil {
					return err
				}
				var rows [][]string
				for _, t := range resp.GetItems() {
					pol := strings.Join(t.GetPolicies(), ",")
					if t.GetManagement() {
						pol = "(management)"
					}
					exp := "never"
					if e := t.GetExpirationTime(); e != nil {
						exp = e.AsTime().UTC().Format(time.RFC3339)
					}
					rows = append(rows, []string{t.GetAccessorId(), orNone(t.GetDescription()), pol, exp})
				}
				return writeTable(cmd.OutOrStdout(), []string{"ACCESSOR", "DESCRIPTION", "POLICIES", "EXPIRES"}, rows)
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete ACCESSOR",
		Short: "Delete a token (its accessor, or enough of its start)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				err := c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
					_, err := cl.AclTokenDelete(ctx, &api.AclTokenDeleteRequest{AccessorId: args[0]})
					return err
				})
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "acltoken/%s deleted\n", args[0])
				}
				return err
			})
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

func newACLWhoamiCmd(copts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the servers take this client for",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				var resp *api.AclWhoamiResponse
				err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
					var err error
					resp, err = cl.AclWhoami(ctx, &api.AclWhoamiRequest{})
					return err
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", resp.GetIdentity())
				if !resp.GetAclEnabled() {
					fmt.Fprintln(cmd.ErrOrStderr(), "(ACLs are off on the servers: every client may do everything)")
				}
				return nil
			})
		},
	}
}

func newAuditCmd(copts *clientOptions) *cobra.Command {
	var limit int32
	var denied bool
	var output string
	cmd := &cobra.Command{
		Use:   "audit [--denied] [--limit N] [-o json]",
		Short: "List the audit trail of writes: who, what, when, allowed or denied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outputTable, outputJSON); err != nil {
				return err
			}
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				var resp *api.AuditResponse
				err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
					var err error
					resp, err = cl.Audit(ctx, &api.AuditRequest{Limit: limit, DeniedOnly: denied})
					return err
				})
				if err != nil {
					return err
				}
				if output == outputJSON {
					items := make([]proto.Message, len(resp.GetItems()))
					for i, r := range resp.GetItems() {
						items[i] = r
					}
					data, err := api.MarshalListJSON(items)
					if err != nil {
						return err
					}
					return writeWithNewline(cmd.OutOrStdout(), data)
				}
				var rows [][]string
				for _, r := range resp.GetItems() {
					result := "allowed"
					if !r.GetAllowed() {
						result = "denied: " + r.GetReason()
					}
					what := r.GetMethod()
					if r.GetName() != "" {
						what += " " + strings.TrimPrefix(r.GetKind()+" ", " ") + r.GetName()
					}
					if r.GetNamespace() != "" {
						what += " (" + r.GetNamespace() + ")"
					}
					rows = append(rows, []string{r.GetTime().AsTime().UTC().Format(time.RFC3339), r.GetIdentity(), what, result})
				}
				return writeTable(cmd.OutOrStdout(), []string{"TIME", "WHO", "WHAT", "RESULT"}, rows)
			})
		},
	}
	cmd.Flags().Int32Var(&limit, "limit", 100, "at most this many records, newest first")
	cmd.Flags().BoolVar(&denied, "denied", false, "only refused requests")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}

func readAll(cmd *cobra.Command) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20+1))
	if err == nil && len(b) > 1<<20 {
		return nil, fmt.Errorf("policy file over 1 MiB")
	}
	return b, err
}
