package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/agent"
	"github.com/jobcluster/jobcluster/cluster"
)

type devOptions struct {
	dataDir  string
	logLevel string
}

func newDevCmd() *cobra.Command {
	o := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run one server and one agent in one process, for trying jobcluster out",
		Long: `Run a single-node cluster: one server (RPC on ` + cluster.DefaultRPCAddr + `) and one agent
named "dev", with data in a fresh temporary directory unless --data-dir is
given. Client commands reach it with their default --addr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(o.logLevel)
			if err != nil {
				return err
			}
			dir := o.dataDir
			if dir == "" {
				if dir, err = os.MkdirTemp("", "jobcluster-dev-"); err != nil {
					return fmt.Errorf("create data dir: %w", err)
				}
				defer os.RemoveAll(dir)
			}
			srv, err := cluster.New(cluster.Config{
				Name: "dev-server", DataDir: filepath.Join(dir, "server"),
				RPCAddr: cluster.DefaultRPCAddr, RaftAddr: cluster.DefaultRaftAddr, GossipAddr: cluster.DefaultGossipAddr,
				BootstrapExpect: 1,
				Logger:          logger,
			})
			if err != nil {
				return fmt.Errorf("start server: %w", err)
			}
			defer srv.Shutdown()
			a, err := agent.New(agent.Config{
				Name: "dev", DataDir: filepath.Join(dir, "agent"),
				RPCAddr: defaultAgentRPCAddr, GossipAddr: defaultAgentGossipAddr,
				Join:         []string{cluster.DefaultGossipAddr},
				GuardCommand: guardCommand(),
				Logger:       logger,
			})
			if err != nil {
				return fmt.Errorf("start agent: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "jobcluster dev: server at %s, agent \"dev\", data in %s; Ctrl-C stops both\n",
				cluster.DefaultRPCAddr, dir)
			ctx, stop := signalContext()
			defer stop()
			return a.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "", "keep data here instead of a fresh temporary directory")
	cmd.Flags().StringVar(&o.logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
