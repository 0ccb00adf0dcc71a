package testcluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

var nextNetns atomic.Uint32

// Netns is a test host of its own: a network namespace joined to the
// test's namespace by a veth pair, so that cutting the link really
// partitions the host from the rest of the cluster. The test's end of the
// link carries the addresses of the nodes that stay in the test's
// namespace (HostIP), all in one link-local /24 that exists only while the
// test runs. Everything is removed when the test ends.
type Netns struct {
	// Name is the namespace's name, for `ip netns exec`.
	Name string
	// IP is the address of the host inside the namespace.
	IP string

	t      testing.TB
	ip     string // path of the ip command
	hostIf string // the veth end in the test's namespace
	nsIf   string // the veth end in the namespace
	subnet string // first three octets of the link's addresses

	mu       sync.Mutex
	nextHost int
}

// NewNetns creates the namespace and its link, or skips the test when it
// cannot: network namespaces need root and the ip command.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partitioning a host needs a network namespace, which needs root")
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("partitioning a host needs a network namespace: no ip command (iproute2)")
	}
	id := (os.Getpid()*16 + int(nextNetns.Add(1))) % 100000
	n := &Netns{
		Name:     fmt.Sprintf("jobcluster-test-%d", id),
		t:        t,
		ip:       ipPath,
		hostIf:   fmt.Sprintf("jch%d", id),
		nsIf:     fmt.Sprintf("jcn%d", id),
		subnet:   fmt.Sprintf("169.254.%d", id%200+20),
		nextHost: 10,
	}
	n.IP = n.subnet + ".2"
	if out, err := exec.Command(ipPath, "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Skipf("network namespaces are unavailable here: ip netns add: %v: %s", err, out)
	}
	t.Cleanup(n.remove)
	n.must("link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsIf, "netns", n.Name)
	n.must("addr", "add", n.subnet+".1/24", "dev", n.hostIf)
	n.must("link", "set", n.hostIf, "up")
	n.must("-n", n.Name, "addr", "add", n.IP+"/24", "dev", n.nsIf)
	n.must("-n", n.Name, "link", "set", n.nsIf, "up")
	n.must("-n", n.Name, "link", "set", "lo", "up")
	return n
}

// HostIP adds one more address on the test's end of the link and returns
// it: an address of the test's namespace that the namespace reaches while
// the link is up. It suits Options.HostIP.
func (n *Netns) HostIP() string {
	n.mu.Lock()
	host := n.nextHost
	n.nextHost++
	n.mu.Unlock()
	if host > 250 {
		n.t.Fatalf("netns %s: out of addresses", n.Name)
	}
	ip := fmt.Sprintf("%s.%d", n.subnet, host)
	n.must("addr", "add", ip+"/24", "dev", n.hostIf)
	return ip
}

// Cut takes the link down: the namespace can reach no one and no one can
// reach it, as when its cable is pulled.
func (n *Netns) Cut() {
	n.t.Helper()
	n.must("-n", n.Name, "link", "set", n.nsIf, "down")
}

// Heal brings the link back up.
func (n *Netns) Heal() {
	n.t.Helper()
	n.must("-n", n.Name, "link", "set", n.nsIf, "up")
}

func (n *Netns) must(args ...string) {
	n.t.Helper()
	if out, err := exec.Command(n.ip, args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// remove kills what still runs in the namespace (only the test's own
// processes can be there) and deletes the link and the namespace.
func (n *Netns) remove() {
	out, _ := exec.Command(n.ip, "netns", "pids", n.Name).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, args := range [][]string{{"link", "del", n.hostIf}, {"netns", "del", n.Name}} {
		if out, err := exec.Command(n.ip, args...).CombinedOutput(); err != nil {
			n.t.Errorf("clean up: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}

// AddAgentIn starts one more agent on the host inside ns (one agent per
// namespace), joining the servers, which must be reachable from it (see
// Options.HostIP).
func (c *Cluster) AddAgentIn(ns *Netns, name string, extra ...string) *Node {
	c.t.Helper()
	n := &Node{
		Name: name,
		Role: "agent",
		IP:   ns.IP,
		// The namespace is fresh: nothing else listens there.
		RPCAddr:    net.JoinHostPort(ns.IP, "7411"),
		GossipAddr: net.JoinHostPort(ns.IP, "7410"),
		DataDir:    filepath.Join(c.Dir, name),
		logPath:    filepath.Join(c.Dir, name+".log"),
		prefix:     []string{ns.ip, "netns", "exec", ns.Name},
	}
	n.args = c.agentArgs(n, extra)
	c.Agents = append(c.Agents, n)
	c.Start(n)
	return n
}
