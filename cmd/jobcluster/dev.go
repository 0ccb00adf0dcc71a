package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/agent"
	"github.com/jobcluster/jobcluster/cluster"
	"github.com/jobcluster/jobcluster/metrics"
	"github.com/jobcluster/jobcluster/pki"
)

// defaultDevPortBase is the first port of `jobcluster dev`: its ports are
// the default ports of a server and an agent, and 7480 for HTTP.
const defaultDevPortBase = 7400

// Offsets from --port-base of each address `jobcluster dev` binds on
// 127.0.0.1.
const (
	devRPCOffset         = 0
	devRaftOffset        = 1
	devGossipOffset      = 2
	devAgentGossipOffset = 10
	devAgentRPCOffset    = 11
	devHTTPOffset        = 80
)

type devOptions struct {
	encryptionKeyFile string
	dataDir           string
	logLevel          string
	portBase          int
	rpcAddr           string
	httpAddr          string
	runtime           runtimeFlags
	security          securityFlags
}

// devAddrs are the addresses one dev cluster binds.
type devAddrs struct {
	rpc, raft, gossip     string
	agentGossip, agentRPC string
	http                  string // empty: no HTTP listener
}

func newDevCmd(tf *tlsFlags) *cobra.Command {
	o := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run one server and one agent in one process, for trying jobcluster out",
		Long: `Run a single-node cluster: one server (RPC on ` + cluster.DefaultRPCAddr + `) and one agent
named "dev", with data in a fresh temporary directory unless --data-dir is
given. Client commands reach it with their default --addr.

Every port is --port-base plus an offset, on 127.0.0.1: server RPC +0,
Raft +1, gossip +2, the agent's gossip +10 and RPC +11, HTTP +80. So a
second dev cluster runs beside the first with --port-base 7500, and client
commands reach it with --addr 127.0.0.1:7500. --rpc-addr and --http-addr
override those two addresses.

With --ca-file, --cert-file and --key-file (a server certificate) both
speak mutual TLS, and client commands need a client certificate too;
--gossip-key-file encrypts gossip. Off 127.0.0.1 without TLS, --insecure
is needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs, err := o.addrs(cmd)
			if err != nil {
				return err
			}
			logger, err := newLogger(o.logLevel)
			if err != nil {
				return err
			}
			dir := o.dataDir
			if dir == "" {
				if dir, err = os.MkdirTemp("", "jobcluster-dev-"); err != nil {
					return fmt.Errorf("create data dir: %w", err)
				}
				// Pods running as another user pass through to their
				// working directories.
				if err := os.Chmod(dir, 0o711); err != nil {
					return fmt.Errorf("create data dir: %w", err)
				}
				defer os.RemoveAll(dir)
			}
			sec, err := o.security.setup(tf, "dev", []listenAddr{
				{"--rpc-addr", addrs.rpc}, {"raft (--port-base)", addrs.raft}, {"gossip (--port-base)", addrs.gossip},
				{"agent gossip (--port-base)", addrs.agentGossip}, {"agent rpc (--port-base)", addrs.agentRPC}, {"--http-addr", addrs.http},
			}, logger)
			if err != nil {
				return err
			}
			if sec.tls != nil && sec.tls.Identity().Role != pki.RoleServer {
				return fmt.Errorf("--cert-file %s is %s's: dev runs a server and an agent on one server certificate (jobcluster tls cert create --server --name dev)", tf.certFile, sec.tls.Identity())
			}
			defer sec.reloadOnHangup(logger)()
			secretKeys, err := loadSecretKeys(o.encryptionKeyFile)
			if err != nil {
				return err
			}
			reg := metrics.NewRegistry()
			httpSrv, err := startHTTP(addrs.http, sec.transport(), reg)
			if err != nil {
				return err
			}
			defer stopHTTP(httpSrv, logger)
			srv, err := cluster.New(cluster.Config{
				Name: "dev-server", DataDir: filepath.Join(dir, "server"),
				RPCAddr: addrs.rpc, RaftAddr: addrs.raft, GossipAddr: addrs.gossip,
				BootstrapExpect: 1,
				Transport:       sec.transport(),
				GossipKeyring:   sec.keyring,
				Logger:          logger,
				Metrics:         reg,
				SecretKeys:      secretKeys,
			})
			if err != nil {
				return fmt.Errorf("start server: %w", err)
			}
			defer srv.Shutdown()
			closeUI, err := mountUI(httpSrv, addrs.rpc, sec.transport(), logger)
			if err != nil {
				return err
			}
			defer closeUI()
			rts, err := o.runtime.newRuntimes("dev", logger)
			if err != nil {
				return err
			}
			defer rts.close()
			a, err := agent.New(agent.Config{
				Name: "dev", DataDir: filepath.Join(dir, "agent"),
				Runtime: rts.runtime, RuntimeNames: rts.names, RuntimeVersions: rts.versions,
				RPCAddr: addrs.agentRPC, GossipAddr: addrs.agentGossip,
				Join:          []string{addrs.gossip},
				GuardCommand:  guardCommand(tf),
				Transport:     sec.transport(),
				GossipKeyring: sec.keyring,
				Logger:        logger,
				Metrics:       reg,
			})
			if err != nil {
				return fmt.Errorf("start agent: %w", err)
			}
			serveReady(httpSrv, append(srv.ReadyChecks(), a.ReadyChecks()...)...)
			o.printStarted(cmd, addrs, dir)
			if addrs.http != "" {
				path, err := writeDevKubeconfig(dir, addrs.http, *tf)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "kubectl: kubectl --kubeconfig %s get jobs (or KUBECONFIG=%s)\n", path, path)
			}
			ctx, stop := signalContext()
			defer stop()
			return a.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "", "keep data here instead of a fresh temporary directory")
	f.StringVar(&o.encryptionKeyFile, "encryption-key-file", "", "encrypt Secrets at rest with the keys in this file (see jobcluster server --help)")
	f.StringVar(&o.logLevel, "log-level", "warn", "debug, info, warn or error")
	o.runtime.register(f)
	f.IntVar(&o.portBase, "port-base", defaultDevPortBase, "first of the ports on 127.0.0.1 that every address is derived from (see above)")
	f.StringVar(&o.rpcAddr, "rpc-addr", cluster.DefaultRPCAddr, "server gRPC address for clients, bound and advertised; --port-base unless given")
	f.StringVar(&o.httpAddr, "http-addr", devAddr(defaultDevPortBase, devHTTPOffset), "HTTP address serving the web UI (/ui/), /metrics, /healthz, /readyz and /debug/pprof, --port-base + 80 unless given; empty for none")
	o.security.register(f)
	return cmd
}

// devAddr is the address at offset from base on 127.0.0.1.
func devAddr(base, offset int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(base+offset))
}

// addrs derives the dev cluster's addresses from --port-base, with
// --rpc-addr and --http-addr taking precedence when given.
func (o *devOptions) addrs(cmd *cobra.Command) (devAddrs, error) {
	if o.portBase < 1 || o.portBase+devHTTPOffset > 65535 {
		return devAddrs{}, fmt.Errorf("--port-base %d: use a port from 1 to %d", o.portBase, 65535-devHTTPOffset)
	}
	b := o.portBase
	a := devAddrs{
		rpc:         devAddr(b, devRPCOffset),
		raft:        devAddr(b, devRaftOffset),
		gossip:      devAddr(b, devGossipOffset),
		agentGossip: devAddr(b, devAgentGossipOffset),
		agentRPC:    devAddr(b, devAgentRPCOffset),
		http:        devAddr(b, devHTTPOffset),
	}
	if cmd.Flags().Changed("rpc-addr") {
		a.rpc = o.rpcAddr
	}
	if cmd.Flags().Changed("http-addr") {
		a.http = o.httpAddr
	}
	return a, nil
}

// printStarted tells the user where the cluster listens and, when it is
// not where client commands look by default, how to reach it.
func (o *devOptions) printStarted(cmd *cobra.Command, addrs devAddrs, dir string) {
	out := cmd.OutOrStdout()
	http := ""
	if addrs.http != "" {
		http = fmt.Sprintf(" (HTTP at %s)", addrs.http)
	}
	fmt.Fprintf(out, "jobcluster dev: server at %s%s, agent \"dev\", data in %s; Ctrl-C stops both\n", addrs.rpc, http, dir)
	if addrs.http != "" {
		fmt.Fprintf(out, "web UI: %s\n", uiURL(addrs.http))
	}
	if addrs.rpc != defaultAddr {
		fmt.Fprintf(out, "client commands reach it with --addr %s or JOBCLUSTER_ADDR=%s\n", addrs.rpc, addrs.rpc)
	}
}
