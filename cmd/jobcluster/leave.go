package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/api"
)

func newLeaveCmd(copts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "leave",
		Short: "Make a server leave the cluster for good, then stop",
		Long: `Make the server at the first --addr leave the cluster for good: a leader
hands over leadership, the server is removed from the Raft configuration and
its process stops. Stopping a server (SIGTERM) does not do this: it stays a
voter and comes back from its data directory, so rolling restarts never
shrink the cluster.`,
		Example: `  jobcluster leave --addr s3.lan:7400`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs := splitList(copts.addrs)
			if len(addrs) == 0 {
				return fmt.Errorf("--addr: Required value: the RPC address of the server to leave")
			}
			one := *copts
			one.addrs = addrs[0]
			err := one.withClient(cmd, func(ctx context.Context, c *client) error {
				// A write's bound: leaving hands over leadership and waits for
				// an election, for up to 5 s, beyond a read's attempt timeout.
				return c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
					_, err := cl.Leave(ctx, &api.LeaveRequest{})
					return err
				})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "server at %s left the cluster\n", addrs[0])
			return nil
		},
	}
}

func newMembersRemoveCmd(copts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a server that is gone for good from the Raft configuration",
		Long: `Remove a server that is gone for good (its machine lost, say) from the Raft
configuration, so that the others no longer count it for a majority. A
server that is alive is refused: run "jobcluster leave" against it instead.`,
		Example: `  jobcluster members remove s3`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := copts.withClient(cmd, func(ctx context.Context, c *client) error {
				return c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
					_, err := cl.RemoveMember(ctx, &api.RemoveMemberRequest{Name: args[0]})
					return err
				})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "server %s removed\n", args[0])
			return nil
		},
	}
}
