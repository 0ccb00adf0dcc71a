// Package agent runs the pods that the servers bind to this node as real
// processes, reports their status, and fences itself when it loses
// contact with the servers.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/internal/datadir"
	"github.com/jobcluster/jobcluster/metrics"
	"github.com/jobcluster/jobcluster/transport"
)

const (
	defaultLeaseTTL       = 3 * time.Second
	defaultRestartBackoff = 10 * time.Second
	defaultMaxPods        = 110
	// shutdownGrace bounds the grace period pods get when the agent stops.
	shutdownGrace = 5 * time.Second
	// flushTimeout bounds how long a stopping agent tries to report.
	flushTimeout = 2 * time.Second
	// logRetention is how long the logs of a forgotten pod are kept.
	logRetention  = 24 * time.Hour
	sweepInterval = time.Hour
)

// Config configures an agent.
type Config struct {
	// Name is the node name, unique in the cluster.
	Name string
	// DataDir holds the pods' journal, logs and working directories.
	DataDir string
	// RPCAddr is the listen address of the Agent gRPC service (logs).
	RPCAddr string
	// GossipAddr is the gossip address to bind and advertise.
	GossipAddr string
	// Join lists gossip addresses of other members.
	Join []string
	// Labels are the node's labels.
	Labels map[string]string
	// CPUMillis, MemoryBytes and MaxPods are the capacity the node offers;
	// zero means what the machine has (and 110 pods).
	CPUMillis   int64
	MemoryBytes int64
	MaxPods     int
	// LeaseTTL is how long the node may run pods without a successful
	// heartbeat until a server names another duration; default 3 s.
	LeaseTTL time.Duration
	// GossipTiming tunes gossip's failure detection; the zero value is
	// gossip.LANTiming.
	GossipTiming gossip.Timing
	// RestartBackoff is the first delay before a failed container of a
	// restartPolicy OnFailure pod is restarted; default 10 s.
	RestartBackoff time.Duration
	// LogTailBytes, LogTailLines and LogShipInterval bound the ends of
	// container logs the agent ships to the servers (see
	// DefaultTailBytes); zero means the default.
	LogTailBytes, LogTailLines int
	LogShipInterval            time.Duration
	// LogMaxSize and LogMaxFiles bound each container's log on this
	// machine, kubelet's containerLogMaxSize and containerLogMaxFiles;
	// zero means DefaultLogMaxSize (10 MiB) and DefaultLogMaxFiles (5).
	LogMaxSize  int64
	LogMaxFiles int
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
	// Runtime runs the containers; nil means the process runtime.
	Runtime Runtime
	// RuntimeNames lists the runtimes Runtime runs, its default first, as
	// the agent advertises them in gossip (for example "process" or
	// "docker"); nil means "process".
	RuntimeNames []string
	// RuntimeVersions holds the versions the agent advertises, such as
	// "docker://20.10.24", one per runtime that has one.
	RuntimeVersions []string
	// Transport says how the agent dials servers and accepts gRPC
	// connections. With Transport.TLS, its certificate must be an agent's
	// for Name: the servers know the agent by it.
	Transport transport.Config
	// GossipKeyring, when set, encrypts gossip; see gossip.Keyring.
	GossipKeyring *gossip.Keyring
	// GuardCommand runs RunGuard in a separate process (the jobcluster
	// binary's hidden agent-guard command). It makes the children of pod
	// processes, and the containers of a container runtime, die with the
	// agent as well.
	GuardCommand []string
	// Metrics is where the agent registers its metrics (see package
	// metrics); nil gives it a registry of its own that nobody reads. A
	// registry takes one agent's, once: Run an agent given one only once.
	Metrics *metrics.Registry
}

// Agent is one node that runs pods.
type Agent struct {
	cfg Config
	// lease is the running agent's lease, nil before Run starts keeping it.
	lease atomic.Pointer[lease]
}

// New checks cfg, fills in defaults and creates the data directory.
func New(cfg Config) (*Agent, error) {
	var errs []error
	if cfg.Name == "" {
		errs = append(errs, errors.New("agent name is required"))
	}
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("agent data directory is required"))
	}
	if cfg.RPCAddr == "" {
		errs = append(errs, errors.New("agent rpc address is required"))
	}
	if cfg.GossipAddr == "" {
		errs = append(errs, errors.New("agent gossip address is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := checkIdentity(cfg); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Runtime == nil {
		cfg.Runtime = NewProcessRuntime()
	}
	if len(cfg.RuntimeNames) == 0 {
		cfg.RuntimeNames = []string{"process"}
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = defaultLeaseTTL
	}
	if cfg.RestartBackoff <= 0 {
		cfg.RestartBackoff = defaultRestartBackoff
	}
	if cfg.CPUMillis <= 0 {
		cfg.CPUMillis = machineCPUMillis()
	}
	if cfg.MemoryBytes <= 0 {
		mem, err := machineMemoryBytes()
		if err != nil {
			return nil, fmt.Errorf("agent memory capacity: %w", err)
		}
		cfg.MemoryBytes = mem
	}
	if cfg.MaxPods <= 0 {
		cfg.MaxPods = defaultMaxPods
	}
	// Others may pass through, not list: pods that run as another user
	// reach their working directories below it.
	if err := os.MkdirAll(cfg.DataDir, 0o711); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return &Agent{cfg: cfg}, nil
}

// Run binds the RPC address, joins the cluster and runs the pods bound to
// this node until ctx ends. Then it stops its pods, reports them Failed
// (NodeLost) as far as it can, leaves the cluster and returns.
func (a *Agent) Run(ctx context.Context) error {
	lock, err := datadir.Acquire(a.cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	// Advice, not a fault: logged at info, so `jobcluster dev` (at warn)
	// stays quiet about the machine it is tried on.
	if dev, noJournal, err := ext4NoJournal(a.cfg.DataDir); err != nil {
		a.cfg.Logger.Debug("check the data directory's file system", "dir", a.cfg.DataDir, "err", err)
	} else if noJournal {
		a.cfg.Logger.Info("the data directory is on ext4 without a journal: after many pods' files are deleted, each new pod costs the agent more CPU; a file system with a journal avoids it (README, \"Running a real cluster\")",
			"dir", a.cfg.DataDir, "device", dev)
	}
	lis, err := net.Listen("tcp", a.cfg.RPCAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.RPCAddr, err)
	}
	defer lis.Close()
	if r, ok := a.cfg.Runtime.(LeftoverRemover); ok {
		if err := r.RemoveLeftovers(ctx); err != nil {
			return fmt.Errorf("remove what an earlier run left: %w", err)
		}
	}
	// Deferred before the guard's close, so it runs after it, once every
	// pod is stopped.
	defer removeCgroupParents(a.cfg.Runtime)
	var grd *guard // nil without a guard command; its methods then do nothing
	if len(a.cfg.GuardCommand) > 0 {
		g, err := startGuard(a.cfg.GuardCommand)
		if err != nil {
			return err
		}
		// Closed after the pods are stopped: deferred calls run last first.
		defer g.close()
		giveGuard(a.cfg.Runtime, g)
		grd = g
	}
	g, err := gossip.Start(gossip.Config{
		Name:     a.cfg.Name,
		BindAddr: a.cfg.GossipAddr,
		Join:     a.cfg.Join,
		Meta: &api.MemberMeta{
			Role:    gossip.RoleAgent,
			RpcAddr: lis.Addr().String(),
			Labels:  a.cfg.Labels,
			Version: api.Version(),
			Capacity: map[string]string{
				"cpu":    strconv.FormatInt(a.cfg.CPUMillis, 10) + "m",
				"memory": strconv.FormatInt(a.cfg.MemoryBytes, 10),
				"pods":   strconv.Itoa(a.cfg.MaxPods),
			},
			Runtimes:        a.cfg.RuntimeNames,
			RuntimeVersions: a.cfg.RuntimeVersions,
		},
		Keyring: a.cfg.GossipKeyring,
		Timing:  a.cfg.GossipTiming,
		Logger:  a.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("join cluster: %w", err)
	}
	defer g.Shutdown()
	return a.serve(ctx, lis, gossipMembers{g}, grd)
}

// membership is what the agent needs from gossip.
type membership interface {
	serverAddrs() []string
	changed() <-chan struct{}
	leave(timeout time.Duration) error
}

type gossipMembers struct{ g *gossip.Gossip }

func (m gossipMembers) serverAddrs() []string {
	var addrs []string
	for _, s := range m.g.AliveServers() {
		if addr := s.Meta.GetRpcAddr(); addr != "" {
			addrs = append(addrs, addr)
		}
	}
	return addrs
}

func (m gossipMembers) changed() <-chan struct{}          { return m.g.Changed() }
func (m gossipMembers) leave(timeout time.Duration) error { return m.g.Leave(timeout) }

// serve runs the agent on a bound listener with the given view of the
// cluster.
func (a *Agent) serve(ctx context.Context, lis net.Listener, members membership, grd *guard) error {
	logger := a.cfg.Logger.With("node", a.cfg.Name)
	pool := newServerPool(members.serverAddrs, a.cfg.Transport)
	defer pool.close()
	srv := &servers{node: a.cfg.Name, incarnation: newIncarnation(), pool: pool, logger: logger, resync: make(chan struct{}, 1)}
	grd.identify(a.cfg.Name, srv.incarnation)
	grd.serversAre(members.serverAddrs())

	reg := a.cfg.Metrics
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	m := metrics.NewAgent(reg)
	var sup *supervisor
	rep := newReporter(srv.reportStatus, func(uid string) { sup.markReported(uid) }, logger)
	sup, err := newSupervisor(supervisorConfig{
		Node:           a.cfg.Name,
		DataDir:        a.cfg.DataDir,
		HostIP:         hostIP(lis.Addr().String(), a.cfg.GossipAddr),
		Runtime:        a.cfg.Runtime,
		Sink:           rep,
		Logger:         logger,
		RestartBackoff: a.cfg.RestartBackoff,
		Metrics:        m,
		LogMaxSize:     a.cfg.LogMaxSize,
		LogMaxFiles:    a.cfg.LogMaxFiles,
		TailBytes:      a.cfg.LogTailBytes,
		TailLines:      a.cfg.LogTailLines,
		ShipInterval:   a.cfg.LogShipInterval,
	})
	if err != nil {
		return err
	}

	tc := a.cfg.Transport
	tc.UnaryInterceptors = append([]grpc.UnaryServerInterceptor{reg.GRPC().UnaryInterceptor}, tc.UnaryInterceptors...)
	tc.StreamInterceptors = append([]grpc.StreamServerInterceptor{reg.GRPC().StreamInterceptor}, tc.StreamInterceptors...)
	var auth []grpc.ServerOption
	if a.cfg.Transport.TLS != nil {
		auth = serversOnly()
	}
	grpcServer := transport.NewServer(tc, auth...)
	api.RegisterAgentServer(grpcServer, newLogService(sup))
	serveErr := make(chan error, 1)
	var serving sync.WaitGroup
	serving.Go(func() { serveErr <- grpcServer.Serve(lis) })
	defer func() {
		grpcServer.Stop()
		serving.Wait()
	}()

	l := &lease{
		servers:   members.serverAddrs,
		heartbeat: srv.heartbeat,
		leader:    func() string { return loadString(&srv.leader) },
		ttl:       a.cfg.LeaseTTL,
		lost:      sup.fence,
		renewed: func() {
			sup.unfence()
			srv.requestResync()
		},
		// The guard fences the pods itself should this agent stop
		// renewing without dying: frozen, it could not.
		extended: func(left time.Duration) {
			sup.lapses.extended(time.Now(), left)
			grd.leaseLeft(left)
		},
		logger:  logger,
		metrics: m,
	}
	a.lease.Store(l)
	m.ObserveState(reg, func() metrics.AgentState {
		return metrics.AgentState{PodsRunning: sup.runningPods(), LeaseHeld: l.held.Load()}
	})
	loops, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	var wg sync.WaitGroup
	wg.Go(func() { rep.run(loops) })
	wg.Go(func() { srv.watch(loops, sup.SyncSet) })
	wg.Go(func() { l.run(loops) })
	wg.Go(func() { housekeep(loops, members, srv, grd, sup.journal, logger) })
	wg.Go(func() { newCleaner(sup, srv.podsExist, logger).run(loops) })
	wg.Go(func() { measureUsage(loops, a.cfg.Name, sup.usagePods, srv.usage.Store) })
	logger.Info("agent started", "rpc", lis.Addr().String(), "gossip", a.cfg.GossipAddr)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("serve agent rpc: %w", err)
	}
	stopLoops()
	wg.Wait()

	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace+time.Second)
	defer cancel()
	if err := sup.shutdown(stopCtx, shutdownGrace); err != nil {
		logger.Warn("stop pods", "err", err)
	}
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), flushTimeout)
	defer cancelFlush()
	if err := rep.flush(flushCtx); err != nil {
		logger.Warn("report final pod statuses", "err", err)
	}
	if err := sup.journal.close(); err != nil {
		logger.Warn("close journal", "err", err)
	}
	if err := members.leave(time.Second); err != nil {
		logger.Warn("leave cluster", "err", err)
	}
	logger.Info("agent stopped")
	return runErr
}

// housekeep follows membership changes (closing connections to departed
// servers, watching at once when a server appears, telling the guard whom
// to notify) and sweeps the logs of long-forgotten pods: the fallback for
// those the cleaner could not ask the servers about.
func housekeep(ctx context.Context, members membership, srv *servers, grd *guard, j *journal, logger *slog.Logger) {
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-members.changed():
			srv.pool.prune()
			grd.serversAre(members.serverAddrs())
			if loadString(&srv.watched) == "" {
				srv.requestResync()
			}
		case <-sweep.C:
			if err := j.sweep(time.Now().Add(-logRetention)); err != nil {
				logger.Warn("sweep pod directories", "err", err)
			}
		}
	}
}

// hostIP is the IP address pods see as status.hostIP: the host of the
// RPC address, else of the gossip address, when it is a specific IP.
func hostIP(addrs ...string) string {
	for _, addr := range addrs {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			return ip.String()
		}
	}
	return ""
}

// ReadyChecks are the agent's readiness conditions: a server has accepted
// its heartbeat (it is registered), and it holds its lease, so it runs
// the pods bound to it.
func (a *Agent) ReadyChecks() []metrics.Check {
	return []metrics.Check{
		{Name: "registered", Run: func() error {
			if l := a.lease.Load(); l == nil || !l.registered.Load() {
				return errors.New("no server has answered a heartbeat yet")
			}
			return nil
		}},
		{Name: "lease", Run: func() error {
			if l := a.lease.Load(); l == nil || !l.held.Load() {
				return errors.New("lease not held: pods are stopped until a server renews it")
			}
			return nil
		}},
	}
}
