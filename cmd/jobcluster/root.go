package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/api"
)

// defaultAddr is the RPC address of a server started with default flags.
const defaultAddr = "127.0.0.1:7400"

// clientOptions are the flags every client command shares.
type clientOptions struct {
	addrs     string
	timeout   time.Duration
	tls       tlsFlags
	namespace string
	token     string
}

// ns is the namespace a command works in: -n, else "default".
func (o *clientOptions) ns() string { return api.NamespaceOr(o.namespace) }

func newRootCmd() *cobra.Command {
	copts := &clientOptions{}
	root := &cobra.Command{
		Use:           "jobcluster",
		Short:         "Run Kubernetes batch/v1 Jobs and CronJobs on a cluster of ordinary machines",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       api.Version(),
	}
	root.SetVersionTemplate("Client Version: {{.Version}}\n")
	addr := os.Getenv("JOBCLUSTER_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	root.PersistentFlags().StringVar(&copts.addrs, "addr", addr, "server RPC addresses to try in order, comma separated (env JOBCLUSTER_ADDR)")
	root.PersistentFlags().DurationVar(&copts.timeout, "timeout", 30*time.Second, "upper bound for the whole command")
	copts.tls.register(root.PersistentFlags())
	root.PersistentFlags().StringVarP(&copts.namespace, "namespace", "n", "", `the namespace of the objects a command works on (default "default")`)
	root.PersistentFlags().StringVar(&copts.token, "token", os.Getenv("JOBCLUSTER_TOKEN"), "the ACL token's secret, when the servers run with --acl (env JOBCLUSTER_TOKEN)")
	root.AddCommand(
		newServerCmd(&copts.tls),
		newAgentCmd(&copts.tls),
		newAgentGuardCmd(&copts.tls),
		newAgentMountExecCmd(),
		newDevCmd(&copts.tls),
		newTLSCmd(),
		newKeygenCmd(),
		newSubmitCmd(copts),
		newApplyCmd(copts),
		newGetCmd(copts),
		newVersionCmd(copts),
		newLabelCmd(copts),
		newCronJobCmd(copts),
		newNotificationsCmd(copts),
		newACLCmd(copts),
		newAuditCmd(copts),
		newWaitCmd(copts),
		newAnnotateCmd(copts),
		newDescribeCmd(copts),
		newDeleteCmd(copts),
		newLogsCmd(copts),
		newMembersCmd(copts),
		newLeaveCmd(copts),
		newSuspendCmd(copts),
		newResumeCmd(copts),
		newCreateCmd(copts),
		newTopCmd(copts),
		newKubeconfigCmd(copts),
	)
	setCompletions(root, copts)
	return root
}
