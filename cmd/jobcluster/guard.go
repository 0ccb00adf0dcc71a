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

// newAgentMountExecCmd is the hidden shim a process pod that mounts
// volumes starts through: in the pod's own mount namespace it mounts the
// volumes, becomes the pod's user and execs the container's command.
func newAgentMountExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "agent-mount-exec SPEC",
		Short:              "Mount a process pod's volumes and run its command (started by the agent itself)",
		Hidden:             true,
		Args:               cobra.ExactArgs(1),
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return agent.MountExec(args[0])
		},
	}
}

// mountExecCommand is how the process runtime starts the shim: this same
// binary.
func mountExecCommand() []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return []string{exe, "agent-mount-exec"}
}
