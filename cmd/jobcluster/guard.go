package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/agent"
	"github.com/jobcluster/jobcluster/agent/docker"
	"github.com/jobcluster/jobcluster/transport"
)

// newAgentGuardCmd is the hidden helper every agent starts once: it kills
// the agent's pod process groups should the agent die, then tells the
// servers, with the agent's certificate (tf) when it has one.
func newAgentGuardCmd(tf *tlsFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "agent-guard",
		Short:  "Kill an agent's pods when the agent dies (started by the agent itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			agent.IgnoreAgentSignals()
			// The guard does one thing at a time: one thread saves it and
			// the agent a context switch per message it reads.
			runtime.GOMAXPROCS(1)
			parent := os.Getppid()
			notify := func(ctx context.Context, servers []string, node, incarnation string) error {
				if !agent.AgentGone(parent, 2*time.Second) {
					return fmt.Errorf("the agent (process %d) still runs", parent)
				}
				// Read when needed: the files may have been rotated since.
				tl, err := tf.load()
				if err != nil {
					return err
				}
				return agent.NotifyStopped(ctx, transport.Config{TLS: tl}, servers, node, incarnation)
			}
			return agent.RunGuard(os.Stdin, docker.RemoveContainers, notify)
		},
	}
}

// guardCommand is how an agent starts its guard: this same binary, with
// the agent's certificate flags.
func guardCommand(tf *tlsFlags) []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	cmd := []string{exe, "agent-guard"}
	if tf.caFile != "" && tf.certFile != "" && tf.keyFile != "" {
		cmd = append(cmd, "--ca-file", tf.caFile, "--cert-file", tf.certFile, "--key-file", tf.keyFile)
	}
	return cmd
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
