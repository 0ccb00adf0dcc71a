package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/agent"
	"github.com/jobcluster/jobcluster/agent/docker"
)

// newAgentGuardCmd is the hidden helper every agent starts once: it kills
// the agent's pod process groups should the agent die.
func newAgentGuardCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "agent-guard",
		Short:  "Kill an agent's pods when the agent dies (started by the agent itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			agent.IgnoreAgentSignals()
			return agent.RunGuard(os.Stdin, docker.RemoveContainers)
		},
	}
}

// guardCommand is how an agent starts its guard: this same binary.
func guardCommand() []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return []string{exe, "agent-guard"}
}
