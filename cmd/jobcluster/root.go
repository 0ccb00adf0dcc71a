package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"
)

// defaultAddr is the RPC address of a server started with default flags.
const defaultAddr = "127.0.0.1:7400"

// clientOptions are the flags every client command shares.
type clientOptions struct {
	addrs   string
	timeout time.Duration
	tls     tlsFlags
}

func newRootCmd() *cobra.Command {
	copts := &clientOptions{}
	root := &cobra.Command{
		Use:           "jobcluster",
		Short:         "Run Kubernetes batch/v1 Jobs and CronJobs on a cluster of ordinary machines",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addr := os.Getenv("JOBCLUSTER_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	root.PersistentFlags().StringVar(&copts.addrs, "addr", addr, "server RPC addresses to try in order, comma separated (env JOBCLUSTER_ADDR)")
	root.PersistentFlags().DurationVar(&copts.timeout, "timeout", 30*time.Second, "upper bound for the whole command")
	copts.tls.register(root.PersistentFlags())
	root.AddCommand(
		newServerCmd(&copts.tls),
		newAgentCmd(&copts.tls),
		newAgentGuardCmd(),
		newDevCmd(&copts.tls),
		newTLSCmd(),
		newKeygenCmd(),
		newSubmitCmd(copts),
		newApplyCmd(copts),
		newGetCmd(copts),
		newDescribeCmd(copts),
		newDeleteCmd(copts),
		newLogsCmd(copts),
		newMembersCmd(copts),
		newLeaveCmd(copts),
		newSuspendCmd(copts),
		newResumeCmd(copts),
		newCreateCmd(copts),
		newKubeconfigCmd(copts),
	)
	return root
}
