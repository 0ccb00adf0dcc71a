package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
	"github.com/jobcluster/jobcluster/transport"
)

// node is one server or agent process of the benchmark cluster.
type node struct {
	name, role string
	rpcAddr    string
	raftAddr   string
	gossipAddr string
	httpAddr   string
	dataDir    string
	logPath    string
	args       []string
	// env is added to the benchmark's own environment.
	env []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// pid is the node's process ID, or 0 when it does not run.
func (n *node) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// cluster is a set of jobcluster processes on their own loopback
// addresses, with data and logs under one temporary directory.
type cluster struct {
	bin     string
	dir     string
	keep    bool
	logger  *slog.Logger
	servers []*node
	agents  []*node
	client  *client

	// converged is how long after the last process started every server
	// saw every member alive in gossip; ready, how long until every
	// agent was a Ready node.
	converged, ready time.Duration

	stopOnce sync.Once
}

var nextHost atomic.Uint32

// allocIP returns a fresh loopback address. 127.88.x.y keeps clear of the
// tests' 127.77.x.y and of `jobcluster dev` on 127.0.0.1.
func allocIP() string {
	n := int(nextHost.Add(1))
	return fmt.Sprintf("127.88.%d.%d", (os.Getpid()+n/250)%250+1, n%250+1)
}

// moduleRoot is the directory of the jobcluster module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find module root: run from inside the jobcluster module")
	}
	return filepath.Dir(gomod), nil
}

// buildBinary builds bin/jobcluster in the module root and returns its path.
func buildBinary(ctx context.Context) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", "jobcluster")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/jobcluster")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build jobcluster: %w\n%s", err, out)
	}
	return bin, nil
}

// startCluster starts servers and agents, every one with the defaults
// (plus -server-args and -agent-args), and waits until there is a leader
// and every agent is a Ready node. The caller must call stop, also when
// startCluster fails.
func startCluster(ctx context.Context, bin string, servers, agents int, cfg config, agentArgs []string, logger *slog.Logger) (*cluster, error) {
	dir, err := os.MkdirTemp("", "jobcluster-bench-")
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	c := &cluster{bin: bin, dir: dir, keep: cfg.keep, logger: logger}
	register(c)
	var pki securePKI
	if cfg.secure {
		if pki, err = newSecurePKI(ctx, bin, dir); err != nil {
			return c, err
		}
	}
	var gossip, rpc []string
	for i := range servers {
		n, err := c.newNode(fmt.Sprintf("s%d", i+1), "server")
		if err != nil {
			return c, err
		}
		gossip = append(gossip, n.gossipAddr)
		rpc = append(rpc, n.rpcAddr)
		c.servers = append(c.servers, n)
	}
	for _, n := range c.servers {
		n.args = []string{"server",
			"--name", n.name, "--data-dir", n.dataDir,
			"--rpc-addr", n.rpcAddr, "--raft-addr", n.raftAddr, "--gossip-addr", n.gossipAddr,
			"--http-addr", n.httpAddr,
			"--bootstrap-expect", fmt.Sprint(servers), "--join", strings.Join(gossip, ","),
			"--log-level", cfg.nodeLogLevel,
		}
		n.args = append(n.args, strings.Fields(cfg.serverArgs)...)
		n.env = strings.Fields(cfg.serverEnv)
		if cfg.secure {
			flags, err := pki.cert(ctx, "server", n.name)
			if err != nil {
				return c, err
			}
			n.args = append(append(n.args, flags...), "--acl")
		}
		if err := c.start(n); err != nil {
			return c, err
		}
	}
	for i := range agents {
		n, err := c.newNode(fmt.Sprintf("a%d", i+1), "agent")
		if err != nil {
			return c, err
		}
		n.args = []string{"agent",
			"--name", n.name, "--data-dir", n.dataDir,
			"--rpc-addr", n.rpcAddr, "--gossip-addr", n.gossipAddr,
			"--join", strings.Join(gossip, ","),
			"--log-level", cfg.nodeLogLevel,
		}
		n.args = append(n.args, agentArgs...)
		n.env = strings.Fields(cfg.agentEnv)
		if cfg.secure {
			flags, err := pki.cert(ctx, "agent", n.name)
			if err != nil {
				return c, err
			}
			n.args = append(n.args, flags...)
		}
		c.agents = append(c.agents, n)
		if err := c.start(n); err != nil {
			return c, err
		}
	}
	lastStarted := time.Now()
	var tc transport.Config
	if cfg.secure {
		if tc.TLS, err = pki.clientTLS(ctx); err != nil {
			return c, err
		}
		anon, err := dialCluster(rpc, tc)
		if err != nil {
			return c, err
		}
		bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err = wait.Until(time.Now().Add(60*time.Second), func() (bool, string) {
			tc.Token, err = bootstrapToken(bctx, anon)
			return err == nil, fmt.Sprint(err)
		})
		cancel()
		anon.close()
		if err != nil {
			return c, fmt.Errorf("acl bootstrap: %w", err)
		}
	}
	if c.client, err = dialCluster(rpc, tc); err != nil {
		return c, err
	}
	for _, n := range c.servers {
		logger.Debug("server", "node", n.name, "rpc", n.rpcAddr, "pprof", "http://"+n.httpAddr+"/debug/pprof/")
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second+time.Duration(agents)*time.Second)
	defer cancel()
	if err := c.waitConverged(wctx); err != nil {
		return c, err
	}
	c.converged = time.Since(lastStarted)
	leader, err := c.waitLeader(wctx)
	if err != nil {
		return c, err
	}
	logger.Debug("leader", "node", leader.name, "pprof", "http://"+leader.httpAddr+"/debug/pprof/")
	for _, a := range c.agents {
		if err := c.client.waitNodeReady(wctx, a.name); err != nil {
			return c, err
		}
	}
	c.ready = time.Since(lastStarted)
	return c, nil
}

// waitConverged waits until every server's gossip view holds every
// server and agent alive.
func (c *cluster) waitConverged(ctx context.Context) error {
	want := len(c.servers) + len(c.agents)
	return poll(ctx, 50*time.Millisecond, fmt.Sprintf("all %d members alive on every server", want), func() (bool, string) {
		for _, s := range c.servers {
			alive, err := c.client.aliveMembers(ctx, s.rpcAddr)
			if err != nil {
				return false, err.Error()
			}
			if alive < want {
				return false, fmt.Sprintf("%s sees %d of %d alive", s.name, alive, want)
			}
		}
		return true, ""
	})
}

func (c *cluster) newNode(name, role string) (*node, error) {
	ip := allocIP()
	n := &node{
		name:    name,
		role:    role,
		dataDir: filepath.Join(c.dir, name),
		logPath: filepath.Join(c.dir, name+".log"),
	}
	var err error
	addrs := []*string{&n.rpcAddr, &n.gossipAddr}
	if role == "server" {
		addrs = append(addrs, &n.raftAddr, &n.httpAddr)
	}
	for _, a := range addrs {
		if *a, err = testcluster.FreePort(ip); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// start (re)starts a node's process from its flags and data directory.
func (c *cluster) start(n *node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	fmt.Fprintf(logf, "---- start %s %s\n", n.name, strings.Join(n.args, " "))
	cmd := exec.Command(c.bin, n.args...)
	if len(n.env) > 0 {
		cmd.Env = append(os.Environ(), n.env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a kill reaches the node and nothing else;
	// the parent-death signal ends it should the benchmark itself die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	n.cmd, n.done = cmd, done
	return nil
}

// kill sends SIGKILL to the node's process alone (its pods are not
// signalled: they must die with it on their own) and waits until it has
// exited. It returns the moment just before the signal.
func (c *cluster) kill(n *node) (time.Time, error) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return time.Time{}, fmt.Errorf("kill %s: not running", n.name)
	}
	at := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return at, fmt.Errorf("kill %s: %w", n.name, err)
	}
	select {
	case <-done:
		return at, nil
	case <-time.After(10 * time.Second):
		return at, fmt.Errorf("kill %s: still running 10s after SIGKILL", n.name)
	}
}

// freeze stops (SIGSTOP) a node and every process below it, its guard and
// pods included, and returns those processes' IDs; the node itself is
// killed with kill.
func (c *cluster) freeze(n *node) ([]int, error) {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil {
		return nil, fmt.Errorf("freeze %s: not running", n.name)
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("freeze %s: %w", n.name, err)
	}
	var pids []int
	for _, p := range descendants(cmd.Process.Pid) {
		if err := syscall.Kill(p.pid, syscall.SIGSTOP); err == nil {
			pids = append(pids, p.pid)
		}
	}
	return pids, nil
}

// stop kills every node and removes the cluster's directory unless asked
// to keep it. Safe to call more than once and from any goroutine.
func (c *cluster) stop() {
	c.stopOnce.Do(func() {
		if c.client != nil {
			c.client.close()
		}
		for _, n := range append(append([]*node{}, c.agents...), c.servers...) {
			n.mu.Lock()
			cmd, done := n.cmd, n.done
			n.cmd = nil
			n.mu.Unlock()
			if cmd == nil {
				continue
			}
			if n.role == "agent" {
				// Stopped, an agent stops its pods and removes the cgroups
				// it made, which a killed one leaves behind.
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(10 * time.Second):
				}
			}
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
			}
		}
		killPodGroups()
		removeEmptyCgroupTop()
		if c.keep {
			c.logger.Info("kept cluster directory", "dir", c.dir)
			return
		}
		if err := os.RemoveAll(c.dir); err != nil {
			c.logger.Warn("remove cluster directory", "dir", c.dir, "err", err)
		}
	})
}

// removeEmptyCgroupTop removes the agents' shared cgroup parent,
// "jobcluster" in each hierarchy, once it is empty. Each stopped agent
// removed its node's cgroup, but only the agent that made the top one
// tries it, and that agent may not be the last to stop. A parent still in
// use (another agent on this machine) stays.
func removeEmptyCgroupTop() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/jobcluster")
	for _, dir := range append(dirs, "/sys/fs/cgroup/jobcluster") {
		_ = syscall.Rmdir(dir)
	}
}

// logTail returns the end of a node's log, for error reports.
func (n *node) logTail(max int) string {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// waitLeader waits until one running server says it leads and returns it.
func (c *cluster) waitLeader(ctx context.Context) (*node, error) {
	var leader *node
	err := poll(ctx, 20*time.Millisecond, "a leader", func() (bool, string) {
		leader = c.leader(ctx)
		return leader != nil, "no running server says it leads"
	})
	return leader, err
}

// leader asks each running server whether it leads.
func (c *cluster) leader(ctx context.Context) *node {
	for _, s := range c.servers {
		if s.pid() == 0 {
			continue
		}
		m, err := c.client.member(ctx, s.rpcAddr)
		if err == nil && m.GetLeader() {
			c.client.setLeader(s.rpcAddr)
			return s
		}
	}
	return nil
}

// waitCaughtUp waits until server n runs as a follower or leader whose
// applied index has reached the leader's at the time of the call.
func (c *cluster) waitCaughtUp(ctx context.Context, n *node) error {
	leader, err := c.waitLeader(ctx)
	if err != nil {
		return err
	}
	lm, err := c.client.member(ctx, leader.rpcAddr)
	if err != nil {
		return fmt.Errorf("read leader's applied index: %w", err)
	}
	target := lm.GetAppliedIndex()
	return poll(ctx, 20*time.Millisecond, n.name+" to catch up", func() (bool, string) {
		m, err := c.client.member(ctx, n.rpcAddr)
		if err != nil {
			return false, err.Error()
		}
		return m.GetAppliedIndex() >= target, fmt.Sprintf("%s at index %d (%s), leader at %d", n.name, m.GetAppliedIndex(), m.GetRaftState(), target)
	})
}

// poll calls cond every interval until it holds or ctx ends, then fails
// with the last reason cond gave.
func poll(ctx context.Context, interval time.Duration, what string, cond func() (bool, string)) error {
	last := ""
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		last = why
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w; last observed: %s", what, ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}

// clusters are the running clusters, stopped by stopAll on exit, signal
// or panic.
var (
	clustersMu sync.Mutex
	clusters   []*cluster
)

func register(c *cluster) {
	clustersMu.Lock()
	defer clustersMu.Unlock()
	clusters = append(clusters, c)
}

// stopAll stops every cluster started so far.
func stopAll() {
	clustersMu.Lock()
	defer clustersMu.Unlock()
	for _, c := range clusters {
		c.stop()
	}
	clusters = nil
}
