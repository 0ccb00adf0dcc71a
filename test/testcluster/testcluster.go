// Package testcluster starts real jobcluster clusters for end-to-end tests:
// every server and agent is a separate `jobcluster` process with its own
// 127.0.0.x address and a temporary data directory, stopped with real
// signals. Everything it starts is cleaned up when the test ends.
package testcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Options shapes a cluster.
type Options struct {
	Servers int
	Agents  int
	// AgentLabels gives agent i (0-based) extra --label flags.
	AgentLabels map[int][]string
	// AgentArgs are extra flags for every agent.
	AgentArgs []string
	// ServerArgs are extra flags for every server.
	ServerArgs []string
	// HostIP, when set, gives each node its IP address instead of a fresh
	// 127.77.x.y one (see Netns.HostIP). Without TLS such nodes run with
	// --insecure.
	HostIP func() string
	// HTTP gives every node an HTTP listener (--http-addr, Node.HTTPAddr)
	// serving /metrics, /healthz and /readyz.
	HTTP bool
	// TLS makes a CA with `jobcluster tls` and gives every node, and the
	// CLI, a certificate of its own (Cluster.CA).
	TLS bool
	// GossipKey gives every node a gossip key made by `jobcluster keygen`
	// (Cluster.GossipKeyFile).
	GossipKey bool
	// ACL starts the servers with --acl (it needs TLS), bootstraps the
	// ACL system and gives every CLI run the management token
	// (Cluster.ManagementToken).
	ACL bool
}

// Node is one server or agent process.
type Node struct {
	Name       string
	Role       string
	IP         string
	RPCAddr    string
	RaftAddr   string
	GossipAddr string
	DataDir    string
	// HTTPAddr is the node's --http-addr, empty without Options.HTTP.
	HTTPAddr string
	args     []string
	logPath  string
	// prefix runs the node's command through another, such as
	// `ip netns exec NAME`.
	prefix []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Cluster is a running set of nodes.
type Cluster struct {
	t       testing.TB
	Dir     string
	Servers []*Node
	Agents  []*Node
	hostIP  func() string
	http    bool
	// CA made the nodes' certificates; nil without TLS.
	CA *CA
	// GossipKeyFile holds the nodes' gossip key; empty without one.
	GossipKeyFile string
	// clientArgs are the security flags of every CLI run.
	clientArgs []string
	// ManagementToken is the secret of the token `acl bootstrap` made,
	// with Options.ACL.
	ManagementToken string
	// cgroupParent holds the cgroups of every agent's process pods, each
	// node's under its own name; it is removed when the cluster ends.
	cgroupParent string
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	nextIP    atomic.Uint32
)

// Binary builds the jobcluster command once per test process and returns
// its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jobcluster-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "jobcluster")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		args := []string{"build", "-o", binPath}
		if os.Getenv("JOBCLUSTER_TEST_RACE") != "" {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/jobcluster")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build jobcluster: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// RemoveBinary deletes the binary Binary built. Call it from TestMain
// after the tests ran.
func RemoveBinary() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

// allocIP returns a fresh loopback address, so each node has its own host.
func allocIP() string {
	n := nextIP.Add(1)
	// 127.77.x.y keeps clear of 127.0.0.1, where `jobcluster dev` listens.
	return fmt.Sprintf("127.77.%d.%d", (os.Getpid()+int(n)/250)%250+1, n%250+1)
}

var (
	handedMu sync.Mutex
	handed   = map[string]bool{}
)

// FreePort finds a port on ip free for TCP and UDP (gossip uses both),
// and never hands out one address twice in this process.
func FreePort(ip string) (string, error) {
	handedMu.Lock()
	defer handedMu.Unlock()
	for range 50 {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			return "", fmt.Errorf("find free port on %s: %w", ip, err)
		}
		addr := l.Addr().String()
		l.Close()
		// The kernel may offer a just-closed port again.
		if handed[addr] {
			continue
		}
		handed[addr] = true
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		u.Close()
		return addr, nil
	}
	return "", fmt.Errorf("no free port on %s", ip)
}

func freePort(t testing.TB, ip string) string {
	t.Helper()
	addr, err := FreePort(ip)
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// New starts a cluster and waits until it has a leader and every agent is
// a Ready node.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	Binary(t)
	c := &Cluster{t: t, Dir: t.TempDir(), hostIP: opts.HostIP, http: opts.HTTP, cgroupParent: newCgroupParent()}
	t.Cleanup(c.stopAll)
	c.setupSecurity(opts)
	var gossipAddrs []string
	for i := range opts.Servers {
		n := c.newNode(fmt.Sprintf("s%d", i+1), "server")
		gossipAddrs = append(gossipAddrs, n.GossipAddr)
		c.Servers = append(c.Servers, n)
	}
	join := strings.Join(gossipAddrs, ",")
	for _, n := range c.Servers {
		n.args = append([]string{"server",
			"--name", n.Name, "--data-dir", n.DataDir,
			"--rpc-addr", n.RPCAddr, "--raft-addr", n.RaftAddr, "--gossip-addr", n.GossipAddr,
			"--bootstrap-expect", fmt.Sprint(opts.Servers), "--join", join,
			"--log-level", "debug",
		}, append(append(n.httpArgs(), c.securityArgs(n)...), opts.ServerArgs...)...)
		if opts.ACL {
			n.args = append(n.args, "--acl")
		}
		c.Start(n)
	}
	for i := range opts.Agents {
		n := c.AddAgent(fmt.Sprintf("a%d", i+1), append(append([]string{}, opts.AgentArgs...), labelArgs(opts.AgentLabels[i])...)...)
		_ = n
	}
	if opts.ACL {
		c.bootstrapACL()
	}
	c.WaitForLeader()
	for _, a := range c.Agents {
		c.WaitNodeReady(a.Name)
	}
	return c
}

func labelArgs(labels []string) []string {
	var out []string
	for _, l := range labels {
		out = append(out, "--label", l)
	}
	return out
}

func (c *Cluster) newNode(name, role string) *Node {
	ip := allocIP()
	if c.hostIP != nil {
		ip = c.hostIP()
	}
	n := &Node{
		Name:       name,
		Role:       role,
		IP:         ip,
		RPCAddr:    freePort(c.t, ip),
		GossipAddr: freePort(c.t, ip),
		DataDir:    filepath.Join(c.Dir, name),
		logPath:    filepath.Join(c.Dir, name+".log"),
	}
	if role == "server" {
		n.RaftAddr = freePort(c.t, ip)
	}
	if c.http {
		n.HTTPAddr = freePort(c.t, ip)
	}
	return n
}

// httpArgs is the --http-addr flag of a node that has one.
func (n *Node) httpArgs() []string {
	if n.HTTPAddr == "" {
		return nil
	}
	return []string{"--http-addr", n.HTTPAddr}
}

// AddAgent starts one more agent joining the servers.
func (c *Cluster) AddAgent(name string, extra ...string) *Node {
	n := c.newNode(name, "agent")
	n.args = c.agentArgs(n, extra)
	c.Agents = append(c.Agents, n)
	c.Start(n)
	return n
}

// agentArgs are the flags of an agent joining the servers, secured as
// the cluster is.
func (c *Cluster) agentArgs(n *Node, extra []string) []string {
	return c.joinArgs(n, append(c.securityArgs(n), extra...))
}

// joinArgs are the flags of an agent joining the servers.
func (c *Cluster) joinArgs(n *Node, extra []string) []string {
	var join []string
	for _, s := range c.Servers {
		join = append(join, s.GossipAddr)
	}
	return append([]string{"agent",
		"--name", n.Name, "--data-dir", n.DataDir,
		"--rpc-addr", n.RPCAddr, "--gossip-addr", n.GossipAddr,
		"--join", strings.Join(join, ","),
		"--log-level", "debug",
		// Before extra, so that a test's own --cgroup-parent wins.
		"--cgroup-parent", c.cgroupParent + "/" + n.Name,
	}, append(n.httpArgs(), extra...)...)
}

// Start (re)starts a node's process with its flags and data directory.
func (c *Cluster) Start(n *Node) {
	c.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(logf, "---- start %s %s\n", n.Name, strings.Join(n.args, " "))
	argv := append(append(append([]string{}, n.prefix...), binPath), n.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a kill reaches the node and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("start %s: %v", n.Name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	n.cmd, n.done = cmd, done
}

// Kill stops a node at once with SIGKILL, as a crash or power loss would.
func (c *Cluster) Kill(n *Node) { c.signal(n, syscall.SIGKILL) }

// Stop stops a node gracefully with SIGTERM and waits for it to exit.
func (c *Cluster) Stop(n *Node) { c.signal(n, syscall.SIGTERM) }

func (c *Cluster) signal(n *Node, sig syscall.Signal) {
	c.t.Helper()
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		c.t.Errorf("%s did not exit within 20s of %v", n.Name, sig)
	}
	n.mu.Lock()
	n.cmd = nil
	n.mu.Unlock()
}

// PID is the node's process id, or 0 when it does not run.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Freeze stops a node's process with SIGSTOP, as a stalled machine: its
// sockets still accept connections but nothing answers.
func (c *Cluster) Freeze(n *Node) { c.sendOnly(n, syscall.SIGSTOP) }

// Thaw resumes a frozen node with SIGCONT.
func (c *Cluster) Thaw(n *Node) { c.sendOnly(n, syscall.SIGCONT) }

func (c *Cluster) sendOnly(n *Node, sig syscall.Signal) {
	c.t.Helper()
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil {
		c.t.Fatalf("%s is not running", n.Name)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v to %s: %v", sig, n.Name, err)
	}
}

// Running reports whether the node's process runs.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Log returns everything the node's processes wrote, across restarts.
func (n *Node) Log() (string, error) {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return "", fmt.Errorf("log of %s: %w", n.Name, err)
	}
	return string(b), nil
}

// Restart stops a node (SIGKILL) and starts it again from its data.
func (c *Cluster) Restart(n *Node) {
	c.Kill(n)
	c.Start(n)
}

func (c *Cluster) stopAll() {
	for _, n := range append(append([]*Node{}, c.Agents...), c.Servers...) {
		n.mu.Lock()
		cmd := n.cmd
		n.mu.Unlock()
		if cmd != nil {
			c.Kill(n)
		}
	}
	// The agents were killed, so they could not remove their nodes'
	// cgroups themselves.
	if err := removeCgroups(c.cgroupParent, 20*time.Second); err != nil {
		c.t.Errorf("clean up the cluster's cgroups: %v", err)
	}
	if c.t.Failed() {
		for _, n := range append(append([]*Node{}, c.Servers...), c.Agents...) {
			b, _ := os.ReadFile(n.logPath)
			c.t.Logf("==== log of %s (%s)\n%s", n.Name, n.logPath, tail(b, 60000))
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Addrs lists the servers' RPC addresses, for --addr.
func (c *Cluster) Addrs() string {
	var out []string
	for _, s := range c.Servers {
		out = append(out, s.RPCAddr)
	}
	return strings.Join(out, ",")
}

// Result is what one CLI run printed.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// CLI runs the jobcluster client against the cluster's servers.
func (c *Cluster) CLI(args ...string) Result {
	return c.CLIAt(c.Addrs(), "", args...)
}

// CLIAt runs the client against given addresses with stdin.
func (c *Cluster) CLIAt(addrs, stdin string, args ...string) Result {
	c.t.Helper()
	return c.cliRun(addrs, stdin, append(append([]string{}, c.clientArgs...), args...))
}

func (c *Cluster) cliRun(addrs, stdin string, args []string) Result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append([]string{"--addr", addrs}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	return Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// MustCLI runs the client and fails the test if it fails.
func (c *Cluster) MustCLI(args ...string) string {
	c.t.Helper()
	r := c.CLI(args...)
	if r.Err != nil {
		c.t.Fatalf("jobcluster %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// MustCLIAt runs the client against given addresses and fails the test if
// it fails.
func (c *Cluster) MustCLIAt(addrs string, args ...string) string {
	c.t.Helper()
	r := c.CLIAt(addrs, "", args...)
	if r.Err != nil {
		c.t.Fatalf("jobcluster --addr %s %s: %v\nstdout: %s\nstderr: %s", addrs, strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// Submit submits manifest text through stdin.
func (c *Cluster) Submit(manifest string) string {
	c.t.Helper()
	r := c.CLIAt(c.Addrs(), manifest, "submit", "-")
	if r.Err != nil {
		c.t.Fatalf("submit: %v\nstdout: %s\nstderr: %s", r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// GetJSON runs `get ARGS -o json` and decodes the output into v.
func (c *Cluster) GetJSON(v any, args ...string) error {
	r := c.CLI(append(append([]string{"get"}, args...), "-o", "json")...)
	if r.Err != nil {
		return fmt.Errorf("get %v: %v: %s", args, r.Err, r.Stderr)
	}
	return json.Unmarshal([]byte(r.Stdout), v)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// RequireRoot skips the test when it does not run as root, saying why it
// needs root, or fails it under CI=true, which runs as root.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s, and CI=true runs as root", why)
		}
		t.Skip(why)
	}
}

// RequireDocker skips the test when no Docker engine answers, or fails it
// under CI=true, where the engine must be there.
func RequireDocker(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("a Docker engine is required under CI=true: %v\n%s", err, out)
		}
		t.Skipf("no Docker engine: %v", err)
	}
}
