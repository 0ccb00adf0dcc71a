package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

type membersOptions struct {
	output string
}

func newMembersCmd(copts *clientOptions) *cobra.Command {
	o := &membersOptions{}
	cmd := &cobra.Command{
		Use:   "members",
		Short: "List the servers and agents of the cluster as the asked server sees them",
		Long: `List the servers and agents of the cluster: their role, address and gossip
status, and for servers their Raft state, whether they lead, and the last Raft
index their state machine applied.`,
		Example: `  jobcluster members
  jobcluster members -o json | jq '.items[] | select(.leader)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, copts)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: json or yaml")
	cmd.AddCommand(newMembersRemoveCmd(copts))
	return cmd
}

func (o *membersOptions) run(cmd *cobra.Command, copts *clientOptions) error {
	if err := checkOutput(o.output, outputTable, outputJSON, outputYAML); err != nil {
		return err
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		return o.list(ctx, cmd, c)
	})
}

// list prints the members one server knows.
func (o *membersOptions) list(ctx context.Context, cmd *cobra.Command, c *client) error {
	var resp *api.MembersResponse
	err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		resp, err = cl.Members(ctx, &api.MembersRequest{})
		return err
	})
	if err != nil {
		return err
	}
	members := resp.GetItems()
	sortMembers(members)
	switch o.output {
	case outputJSON, outputYAML:
		items := make([]proto.Message, len(members))
		for i, m := range members {
			items[i] = m
		}
		marshal := api.MarshalListJSON
		if o.output == outputYAML {
			marshal = api.MarshalListYAML
		}
		data, err := marshal(items)
		if err != nil {
			return fmt.Errorf("encode members: %w", err)
		}
		return writeWithNewline(cmd.OutOrStdout(), data)
	}
	header, rows := membersTable(members)
	return writeTable(cmd.OutOrStdout(), header, rows)
}

// sortMembers puts servers first, then agents, each by name.
func sortMembers(members []*api.Member) {
	sort.SliceStable(members, func(i, j int) bool {
		a, b := members[i], members[j]
		if (a.GetRole() == "server") != (b.GetRole() == "server") {
			return a.GetRole() == "server"
		}
		return a.GetName() < b.GetName()
	})
}

// membersTable lays out members; the Raft columns are <none> for agents
// and for servers whose Raft state is unknown (not alive, or not
// answering).
func membersTable(members []*api.Member) (header []string, rows [][]string) {
	header = []string{"NAME", "ROLE", "ADDRESS", "STATUS", "RAFT STATE", "LEADER", "APPLIED INDEX", "COMMIT INDEX"}
	for _, m := range members {
		raftState, leader, applied, commit := "<none>", "<none>", "<none>", "<none>"
		if m.GetRole() == "server" && m.GetRaftState() != "" {
			raftState = orNone(m.GetRaftState())
			leader = fmt.Sprint(m.GetLeader())
			applied = fmt.Sprint(m.GetAppliedIndex())
			commit = fmt.Sprint(m.GetCommitIndex())
		}
		rows = append(rows, []string{m.GetName(), m.GetRole(), m.GetAddress(), m.GetStatus(), raftState, leader, applied, commit})
	}
	return header, rows
}
