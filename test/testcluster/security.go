package testcluster

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
)

// CA is a cluster CA made by `jobcluster tls ca create` in a directory
// of its own; its certificates are made there by `jobcluster tls cert
// create`, so tests go through the commands users run.
type CA struct {
	t testing.TB
	// Dir holds the CA and every certificate made with it.
	Dir string
	// CertFile is the CA certificate, for --ca-file.
	CertFile string
}

// NewCA makes a fresh CA in dir, created if needed.
func NewCA(t testing.TB, dir string) *CA {
	t.Helper()
	Binary(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ca := &CA{t: t, Dir: dir, CertFile: filepath.Join(dir, "jobcluster-ca.pem")}
	ca.run("tls", "ca", "create", "--days", "2")
	return ca
}

func (ca *CA) run(args ...string) string {
	ca.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = ca.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		ca.t.Fatalf("jobcluster %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// Cert is a key pair made by the CA.
type Cert struct {
	CAFile, CertFile, KeyFile string
}

// Args are the flags that make a node or client use the key pair.
func (c Cert) Args() []string {
	return []string{"--ca-file", c.CAFile, "--cert-file", c.CertFile, "--key-file", c.KeyFile}
}

// Issue makes a key pair for role (server, agent or client) and name.
func (ca *CA) Issue(role, name string) Cert {
	ca.t.Helper()
	base := filepath.Join(ca.Dir, role+"-"+name)
	if _, err := os.Stat(base + ".pem"); err != nil {
		ca.run("tls", "cert", "create", "--"+role, "--name", name, "--days", "1")
	}
	return Cert{CAFile: ca.CertFile, CertFile: base + ".pem", KeyFile: base + "-key.pem"}
}

// GossipKey writes a new key from `jobcluster keygen` to path.
func GossipKey(t testing.TB, path string) {
	t.Helper()
	Binary(t)
	out, err := exec.Command(binPath, "keygen").Output()
	if err != nil {
		t.Fatalf("jobcluster keygen: %v", err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// setupSecurity makes the CA and gossip key the options ask for.
func (c *Cluster) setupSecurity(opts Options) {
	if opts.TLS {
		c.CA = NewCA(c.t, filepath.Join(c.Dir, "tls"))
		c.clientArgs = c.CA.Issue("client", "test").Args()
	}
	if opts.GossipKey {
		c.GossipKeyFile = filepath.Join(c.Dir, "gossip.key")
		GossipKey(c.t, c.GossipKeyFile)
	}
}

// securityArgs are the flags that secure node n as the cluster is: its
// certificate and the gossip key, or --insecure for a plaintext node that
// other hosts could reach.
func (c *Cluster) securityArgs(n *Node) []string {
	var args []string
	if c.CA != nil {
		args = append(args, c.CA.Issue(n.Role, n.Name).Args()...)
	} else if ip := net.ParseIP(n.IP); ip != nil && !ip.IsLoopback() {
		args = append(args, "--insecure")
	}
	if c.GossipKeyFile != "" {
		args = append(args, "--gossip-key-file", c.GossipKeyFile)
	}
	return args
}

// Reload sends SIGHUP to a node, which rereads its certificates and
// gossip key.
func (c *Cluster) Reload(n *Node) {
	c.t.Helper()
	if pid := n.PID(); pid == 0 || syscall.Kill(pid, syscall.SIGHUP) != nil {
		c.t.Fatalf("%s is not running: cannot send SIGHUP", n.Name)
	}
}

// CLIAs runs the client against the cluster's servers with the given
// security flags instead of the cluster's client certificate.
func (c *Cluster) CLIAs(security []string, args ...string) Result {
	c.t.Helper()
	return c.cliRun(c.Addrs(), "", append(append([]string{}, security...), args...))
}

// NewAgentNode allocates the addresses of one more agent without starting
// it, for tests that start it with flags of their own (see StartAgent).
func (c *Cluster) NewAgentNode(name string) *Node { return c.newNode(name, "agent") }

// JoinArgs are the flags of an agent joining the servers, without its
// certificate or gossip key: the test adds what it means to give it.
func (c *Cluster) JoinArgs(n *Node, extra ...string) []string {
	return c.joinArgs(n, extra)
}

// StartAgent starts agent n with exactly args (see JoinArgs); it is
// stopped when the test ends.
func (c *Cluster) StartAgent(n *Node, args []string) {
	c.t.Helper()
	n.args = args
	c.Agents = append(c.Agents, n)
	c.Start(n)
}

var secretIDRE = regexp.MustCompile(`SecretID:\s+(\S+)`)

// bootstrapACL makes the management token once a leader is elected and
// gives it to every later CLI run.
func (c *Cluster) bootstrapACL() {
	c.t.Helper()
	err := wait.Until(time.Now().Add(30*time.Second), func() (bool, string) {
		r := c.CLI("acl", "bootstrap")
		if r.Err != nil {
			return false, r.Stderr
		}
		m := secretIDRE.FindStringSubmatch(r.Stdout)
		if m == nil {
			return false, "no SecretID in " + r.Stdout
		}
		c.ManagementToken = m[1]
		return true, ""
	})
	if err != nil {
		c.t.Fatalf("acl bootstrap: %v", err)
	}
	c.clientArgs = append(c.clientArgs, "--token", c.ManagementToken)
}
