package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/agent"
	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/cluster"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/metrics"
)

// oneThreadUnlessSet runs the agent's Go code on one thread unless
// GOMAXPROCS is set. Its work is starting, watching and reporting
// processes, mostly in system calls, which leave the thread; with a
// thread per CPU, the runtime's idle threads woke for each handoff and
// cost context switches that the pods' CPUs paid for.
func oneThreadUnlessSet() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// Default addresses of an agent started without flags.
const (
	defaultAgentGossipAddr = "127.0.0.1:7410"
	defaultAgentRPCAddr    = "127.0.0.1:7411"
)

type agentOptions struct {
	name, dataDir       string
	gossipAddr, rpcAddr string
	join                string
	labels              []string
	cpu, memory         string
	maxPods             int
	leaseTTL            time.Duration
	gossipProbe         time.Duration
	restartBackoff      time.Duration
	logTailBytes        int
	logTailLines        int
	logShipInterval     time.Duration
	logMaxSize          string
	logMaxFiles         int
	httpAddr            string
	logLevel            string
	runtime             runtimeFlags
	security            securityFlags
}

func newAgentCmd(tf *tlsFlags) *cobra.Command {
	o := &agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run an agent: runs the pods the servers bind to this node",
		Long: `Run a jobcluster agent. It joins the cluster through gossip, runs the pods
the servers bind to it as processes (--runtime process, the default) or as
Docker containers (--runtime docker, or both: process,docker), and reports
their status. Pods never outlive their agent: should it die, its guard
process kills its processes and removes its containers. An agent cut off
from every server for --lease-ttl stops its pods, since the servers then
run them elsewhere.

Security: with --ca-file, --cert-file and --key-file (an agent certificate
for --name, see jobcluster tls) the agent talks to the servers over mutual
TLS and may act only for its own node; --gossip-key-file encrypts gossip.
SIGHUP rereads those files. Without TLS an agent listens only on loopback
addresses unless --insecure is given.

An agent runs its own code on one thread (GOMAXPROCS=1) unless the
GOMAXPROCS environment variable says otherwise: the machine's other CPUs
are the pods'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			oneThreadUnlessSet()
			cfg, err := o.config()
			if err != nil {
				return err
			}
			cfg.Metrics = metrics.NewRegistry()
			sec, err := o.security.setup(tf, "agent", []listenAddr{
				{"--rpc-addr", o.rpcAddr}, {"--gossip-addr", o.gossipAddr}, {"--http-addr", o.httpAddr},
			}, cfg.Logger)
			if err != nil {
				return err
			}
			defer sec.reloadOnHangup(cfg.Logger)()
			cfg.Transport, cfg.GossipKeyring = sec.transport(), sec.keyring
			cfg.GuardCommand = guardCommand(tf)
			rts, err := o.runtime.newRuntimes(o.name, cfg.Logger)
			if err != nil {
				return err
			}
			defer rts.close()
			cfg.Runtime, cfg.RuntimeNames, cfg.RuntimeVersions = rts.runtime, rts.names, rts.versions
			a, err := agent.New(cfg)
			if err != nil {
				return fmt.Errorf("start agent: %w", err)
			}
			httpSrv, err := startHTTP(o.httpAddr, sec.transport(), cfg.Metrics)
			if err != nil {
				return err
			}
			defer stopHTTP(httpSrv, cfg.Logger)
			serveReady(httpSrv, a.ReadyChecks()...)
			ctx, stop := signalContext()
			defer stop()
			return a.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", defaultAgentName(), "node name, unique in the cluster (default <hostname>-agent)")
	f.StringVar(&o.dataDir, "data-dir", "", "directory for pod logs, working directories and the pod journal (default jobcluster-data/NAME)")
	f.StringVar(&o.gossipAddr, "gossip-addr", defaultAgentGossipAddr, "gossip address, bound and advertised")
	f.StringVar(&o.rpcAddr, "rpc-addr", defaultAgentRPCAddr, "gRPC address serving pod logs, bound and advertised")
	f.StringVar(&o.join, "join", cluster.DefaultGossipAddr, "gossip addresses of servers or other members, comma separated; retried until one answers")
	f.StringArrayVar(&o.labels, "label", nil, "node label key=value, repeatable (matched by nodeSelector)")
	f.StringVar(&o.cpu, "cpu", "", "CPU offered to pods, a quantity such as 2 or 1500m (default: all cores)")
	f.StringVar(&o.memory, "memory", "", "memory offered to pods, a quantity such as 4Gi (default: the machine's memory)")
	f.IntVar(&o.maxPods, "max-pods", 110, "most pods running at once")
	f.DurationVar(&o.leaseTTL, "lease-ttl", cluster.DefaultTiming.LeaseTTL, "stop all pods after this long without reaching a server (the servers' --lease-ttl prevails once reached)")
	f.DurationVar(&o.gossipProbe, "gossip-probe-interval", gossip.LANTiming.ProbeInterval,
		"how often gossip probes a member; a dead member is noticed after a few probes (raise it with the servers' on a busy machine or a large cluster)")
	f.DurationVar(&o.restartBackoff, "restart-backoff", 10*time.Second, "first delay before restarting a failed restartPolicy OnFailure container; doubles up to 5m")
	f.IntVar(&o.logTailBytes, "log-tail-bytes", agent.DefaultTailBytes, "bytes of the end of each container's log shipped to the servers, which keep it for when this agent is gone")
	f.IntVar(&o.logTailLines, "log-tail-lines", agent.DefaultTailLines, "lines of the end of each container's log shipped to the servers")
	f.StringVar(&o.logMaxSize, "container-log-max-size", "10Mi", "largest a container's log grows before it is rotated (checked every --log-ship-interval), as kubelet's containerLogMaxSize")
	f.IntVar(&o.logMaxFiles, "container-log-max-files", agent.DefaultLogMaxFiles, "log files kept per container, the current one included, as kubelet's containerLogMaxFiles")
	f.DurationVar(&o.logShipInterval, "log-ship-interval", agent.DefaultShipInterval, "how often the end of a running container's log is shipped to the servers when it grew")
	f.StringVar(&o.httpAddr, "http-addr", "", "optional HTTP address serving /metrics, /healthz, /readyz and /debug/pprof")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	o.runtime.register(f)
	o.security.register(f)
	return cmd
}

func (o *agentOptions) config() (agent.Config, error) {
	logger, err := newLogger(o.logLevel)
	if err != nil {
		return agent.Config{}, err
	}
	labels := map[string]string{}
	for _, l := range o.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return agent.Config{}, fmt.Errorf("--label %q: use key=value", l)
		}
		labels[k] = v
	}
	var cpu, mem int64
	if o.cpu != "" {
		if cpu, err = api.ParseCPUMillis(o.cpu); err != nil || cpu <= 0 {
			return agent.Config{}, fmt.Errorf("--cpu %q: use a positive quantity such as 2 or 1500m", o.cpu)
		}
	}
	if o.memory != "" {
		if mem, err = api.ParseBytes(o.memory); err != nil || mem <= 0 {
			return agent.Config{}, fmt.Errorf("--memory %q: use a positive quantity such as 4Gi or 512Mi", o.memory)
		}
	}
	logMax, err := api.ParseBytes(o.logMaxSize)
	if err != nil || logMax <= 0 {
		return agent.Config{}, fmt.Errorf("--container-log-max-size %q: use a positive quantity such as 10Mi", o.logMaxSize)
	}
	if o.logMaxFiles < 1 {
		return agent.Config{}, fmt.Errorf("--container-log-max-files %d: keep at least 1 file (the current one)", o.logMaxFiles)
	}
	if o.dataDir == "" {
		o.dataDir = "jobcluster-data/" + o.name
	}
	return agent.Config{
		Name: o.name, DataDir: o.dataDir,
		RPCAddr: o.rpcAddr, GossipAddr: o.gossipAddr, Join: splitList(o.join),
		Labels: labels, CPUMillis: cpu, MemoryBytes: mem, MaxPods: o.maxPods,
		LeaseTTL: o.leaseTTL, GossipTiming: gossipTiming(o.gossipProbe), RestartBackoff: o.restartBackoff,
		LogTailBytes: o.logTailBytes, LogTailLines: o.logTailLines, LogShipInterval: o.logShipInterval,
		LogMaxSize: logMax, LogMaxFiles: o.logMaxFiles,

		Logger: logger,
	}, nil
}
