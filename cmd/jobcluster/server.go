package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/cluster"
	"github.com/jobcluster/jobcluster/internal/procs"
	"github.com/jobcluster/jobcluster/metrics"
	"github.com/jobcluster/jobcluster/seal"
)

type serverOptions struct {
	encryptionKeyFile             string
	name, dataDir                 string
	rpcAddr, raftAddr, gossipAddr string
	httpAddr                      string
	bootstrapExpect               int
	join                          string
	logLevel                      string
	leaveOnTerminate              bool
	cronLead                      time.Duration
	timing                        timingFlags
	security                      securityFlags
	notify                        notifyFlags
	acl                           bool
}

func newServerCmd(tf *tlsFlags) *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a server: Raft-replicated state, the API and the controllers",
		Long: `Run a jobcluster server.

One server alone: jobcluster server --name s1 --data-dir /var/lib/jobcluster
Three servers: start each with --bootstrap-expect 3 and --join naming the
others' gossip addresses; they bootstrap Raft together once. A server added
later starts with --join and no --bootstrap-expect, and the leader adds it.
SIGTERM stops the server within seconds (a second SIGTERM at once) and it
stays a voter, so rolling restarts never shrink the cluster: restarted from
its data directory it rejoins and catches up. A server leaves the cluster for
good only when asked: "jobcluster leave" against it, "jobcluster members
remove NAME" once it is gone, or --leave-on-terminate.

Security: with --ca-file, --cert-file and --key-file (a server certificate
for --name, see jobcluster tls) every listener speaks mutual TLS and callers
are authorized by the role in their certificate; --gossip-key-file encrypts
gossip (see jobcluster keygen). SIGHUP rereads those files. Without TLS a
server listens only on loopback addresses unless --insecure is given.
--encryption-key-file encrypts Secrets in the Raft log and snapshots; every
server needs the same file, and a change to it needs a restart.

A server runs its Go code on one thread while it is nearly idle and on one
per CPU once it is busy, unless the GOMAXPROCS environment variable is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(o.logLevel)
			if err != nil {
				return err
			}
			if o.dataDir == "" {
				o.dataDir = "jobcluster-data/" + o.name
			}
			join := splitList(o.join)
			expect := o.bootstrapExpect
			if !cmd.Flags().Changed("bootstrap-expect") && len(join) == 0 {
				expect = 1
			}
			sec, err := o.security.setup(tf, "server", []listenAddr{
				{"--rpc-addr", o.rpcAddr}, {"--raft-addr", o.raftAddr}, {"--gossip-addr", o.gossipAddr}, {"--http-addr", o.httpAddr},
			}, logger)
			if err != nil {
				return err
			}
			if sec.tls != nil && sec.tls.Identity().Name != o.name {
				return fmt.Errorf("--cert-file %s is for %s, not server %q: start with --name %s or make a certificate with jobcluster tls cert create --server --name %s",
					tf.certFile, sec.tls.Identity(), o.name, sec.tls.Identity().Name, o.name)
			}
			defer sec.reloadOnHangup(logger)()
			targets, err := o.notify.targets()
			if err != nil {
				return err
			}
			if o.acl && sec.tls == nil {
				return fmt.Errorf("--acl needs TLS (--ca-file, --cert-file, --key-file): tokens would cross the network in the clear, and servers and agents need certificates to be told apart from clients")
			}
			secretKeys, err := loadSecretKeys(o.encryptionKeyFile)
			if err != nil {
				return err
			}
			reg := metrics.NewRegistry()
			httpSrv, err := startHTTP(o.httpAddr, sec.transport(), reg)
			if err != nil {
				return err
			}
			defer stopHTTP(httpSrv, logger)
			srv, err := cluster.New(cluster.Config{
				Name: o.name, DataDir: o.dataDir,
				RPCAddr: o.rpcAddr, RaftAddr: o.raftAddr, GossipAddr: o.gossipAddr,
				BootstrapExpect: expect, Join: join,
				Timing:             o.timing.timing(),
				Transport:          sec.transport(),
				GossipKeyring:      sec.keyring,
				Logger:             logger,
				Metrics:            reg,
				Notify:             targets,
				NotifyPendingAfter: o.notify.pendingAfter,
				ACL:                o.acl,
				SecretKeys:         secretKeys,
				CronLead:           cronLead(o.cronLead),
			})
			if err != nil {
				return fmt.Errorf("start server: %w", err)
			}
			serveReady(httpSrv, srv.ReadyChecks()...)
			closeUI, err := mountUI(httpSrv, o.rpcAddr, sec.transport(), logger)
			if err != nil {
				srv.Shutdown()
				return err
			}
			defer closeUI()
			ctx, stop := signalContext()
			defer stop()
			go procs.Govern(ctx, procs.DefaultPolicy, logger.With("component", "procs"))
			select {
			case <-ctx.Done():
				stop()
				if o.leaveOnTerminate {
					stopWithin(shutdownTimeout, logger, func() { srv.Leave(); srv.Shutdown() })
					return nil
				}
			case <-srv.Left():
				logger.Info("left the cluster on request: stopping")
			}
			stopWithin(shutdownTimeout, logger, srv.Shutdown)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", defaultName(), "node name, unique in the cluster (also the Raft ID)")
	f.StringVar(&o.dataDir, "data-dir", "", "directory for the Raft log and snapshots (default jobcluster-data/NAME)")
	f.StringVar(&o.rpcAddr, "rpc-addr", cluster.DefaultRPCAddr, "gRPC address for clients and agents, bound and advertised")
	f.StringVar(&o.raftAddr, "raft-addr", cluster.DefaultRaftAddr, "Raft address, bound and advertised")
	f.StringVar(&o.gossipAddr, "gossip-addr", cluster.DefaultGossipAddr, "gossip address, bound and advertised")
	f.StringVar(&o.httpAddr, "http-addr", "", "optional HTTP address serving the web UI (/ui/), /metrics, /healthz, /readyz and /debug/pprof")
	f.IntVar(&o.bootstrapExpect, "bootstrap-expect", 0, "servers that bootstrap the cluster together (default 1 without --join, else 0: join an existing cluster)")
	f.StringVar(&o.join, "join", "", "gossip addresses of other members, comma separated; retried until one answers")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	o.notify.register(cmd)
	f.StringVar(&o.encryptionKeyFile, "encryption-key-file", "", "encrypt Secrets at rest in the Raft log and snapshots with the keys in this file (one per line, from jobcluster keygen; the first encrypts); every server needs the same file")
	f.BoolVar(&o.acl, "acl", false, "require an ACL token on every client call (needs TLS); make the first with jobcluster acl bootstrap")
	f.BoolVar(&o.leaveOnTerminate, "leave-on-terminate", false, "leave the cluster for good on SIGTERM or SIGINT (removed from Raft) instead of only stopping")
	f.DurationVar(&o.cronLead, "cron-lead", cluster.DefaultCronLead, "decide each CronJob run this long before its time, binding its pods ahead so that they start on the second; 0 decides a run only once due")
	o.timing.register(f)
	o.security.register(f)
	return cmd
}

// cronLead is --cron-lead as cluster.Config takes it: there 0 means the
// default, and a negative value none.
func cronLead(flag time.Duration) time.Duration {
	if flag <= 0 {
		return -1
	}
	return flag
}

// loadSecretKeys reads --encryption-key-file; no file means Secrets are
// stored as they are.
func loadSecretKeys(path string) (*seal.Keyring, error) {
	if path == "" {
		return nil, nil
	}
	k, err := seal.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--encryption-key-file: %w", err)
	}
	return k, nil
}
