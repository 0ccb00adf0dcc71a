package test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/pki"
	"github.com/jobcluster/jobcluster/test/testcluster"
	"github.com/jobcluster/jobcluster/transport"
)

// controlAs dials a server over TLS with the given key pair, as a program
// holding that certificate would.
func controlAs(t *testing.T, addr string, cert testcluster.Cert) api.ControlClient {
	t.Helper()
	tl, err := transport.LoadTLS(transport.TLSFiles{CAFile: cert.CAFile, CertFile: cert.CertFile, KeyFile: cert.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := transport.Dial(addr, transport.Config{TLS: tl}, pki.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return api.NewControlClient(cc)
}

// wantDenied fails unless err is a PermissionDenied answer.
func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("%s: got %v, want PermissionDenied", what, err)
	}
}

// podPhaseNow reads a pod's phase through the CLI.
func podPhaseNow(t *testing.T, c *testcluster.Cluster, name string) string {
	t.Helper()
	var p testcluster.Pod
	if err := c.GetJSON(&p, "pod", name); err != nil {
		t.Fatal(err)
	}
	return p.Status.Phase
}

// TestSecureCluster runs a cluster with mutual TLS and an encrypted
// gossip: a Job runs to Complete, and each way in without the right
// certificate or key is refused from outside and changes nothing.
func TestSecureCluster(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{
		Servers: 3, Agents: 2, TLS: true, GossipKey: true,
		AgentLabels: map[int][]string{0: {"slot=one"}, 1: {"slot=two"}},
	})

	c.Submit(testcluster.ShellJob{Name: "hello", Script: "echo hello from a secure cluster"}.YAML())
	if typ, _ := c.WaitJob("hello", 30*time.Second).Finished(); typ != "Complete" {
		t.Fatalf("job hello finished %s, want Complete", typ)
	}
	pods, err := c.Pods("hello")
	if err != nil || len(pods) != 1 {
		t.Fatalf("pods of hello: %v, %v", pods, err)
	}
	// Logs travel client -> server -> agent, each hop over TLS.
	if out := c.MustCLI("logs", pods[0].Metadata.Name); !strings.Contains(out, "hello from a secure cluster") {
		t.Fatalf("logs printed %q", out)
	}

	// A pod kept running on a2, for the refusals to aim at.
	c.Submit(testcluster.ShellJob{Name: "pinned", NodeSelector: map[string]string{"slot": "two"}, Script: "sleep 300"}.YAML())
	pinned := onlyPod(t, c, "pinned", 20*time.Second, "Running on a2", func(p *testcluster.Pod) bool {
		return p.Status.Phase == "Running" && p.Spec.NodeName == "a2"
	})
	unchanged := func(t *testing.T) {
		t.Helper()
		if _, err := c.GetJob("pinned"); err != nil {
			t.Errorf("job pinned: %v", err)
		}
		if phase := podPhaseNow(t, c, pinned.Metadata.Name); phase != "Running" {
			t.Errorf("pod %s is %s, want still Running", pinned.Metadata.Name, phase)
		}
	}

	t.Run("no certificate", func(t *testing.T) {
		r := c.CLIAs(nil, "delete", "job", "pinned")
		if r.Err == nil || !strings.Contains(r.Stderr, "--ca-file") {
			t.Fatalf("delete without a certificate: err=%v stderr=%q; want a refusal pointing at --ca-file", r.Err, r.Stderr)
		}
		unchanged(t)
	})

	t.Run("certificate from another CA", func(t *testing.T) {
		other := testcluster.NewCA(t, filepath.Join(t.TempDir(), "other"))
		// The holder trusts both CAs, so only the servers can refuse.
		bundle := filepath.Join(t.TempDir(), "both-cas.pem")
		ours, err := os.ReadFile(c.CA.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := os.ReadFile(other.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bundle, append(ours, theirs...), 0o600); err != nil {
			t.Fatal(err)
		}
		client := other.Issue("client", "test")
		r := c.CLIAs([]string{"--ca-file", bundle, "--cert-file", client.CertFile, "--key-file", client.KeyFile}, "delete", "job", "pinned")
		if r.Err == nil || !strings.Contains(r.Stderr, "certificate") {
			t.Fatalf("delete with another CA's certificate: err=%v stderr=%q; want a refusal about the certificate", r.Err, r.Stderr)
		}
		// An agent certificate of the other CA, named like a real agent.
		agent := other.Issue("agent", "a2")
		cl := controlAs(t, c.Servers[0].RPCAddr, testcluster.Cert{CAFile: bundle, CertFile: agent.CertFile, KeyFile: agent.KeyFile})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := cl.ReportPodStatus(ctx, &api.ReportPodStatusRequest{Node: "a2", Updates: []*api.PodStatusUpdate{
			{Name: pinned.Metadata.Name, Uid: pinned.Metadata.UID, Status: &api.PodStatus{Phase: "Succeeded", Reason: "Forged"}},
		}}); err == nil {
			t.Error("a status report with another CA's certificate was accepted")
		}
		unchanged(t)
	})

	failed := &api.PodStatus{Phase: "Succeeded", Reason: "Forged"}
	forged := []*api.PodStatusUpdate{{Name: pinned.Metadata.Name, Uid: pinned.Metadata.UID, Status: failed}}

	t.Run("client certificate acting as an agent", func(t *testing.T) {
		cl := controlAs(t, c.Servers[1].RPCAddr, c.CA.Issue("client", "test"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := cl.Heartbeat(ctx, &api.HeartbeatRequest{Node: "a2"})
		wantDenied(t, "heartbeat", err)
		_, err = cl.ReportPodStatus(ctx, &api.ReportPodStatusRequest{Node: "a2", Updates: forged})
		wantDenied(t, "report pod status", err)
		stream, err := cl.WatchPods(ctx, &api.WatchPodsRequest{Node: "a2"})
		if err == nil {
			_, err = stream.Recv()
		}
		wantDenied(t, "watch pods", err)
		unchanged(t)
	})

	t.Run("agent reporting on another node's pod", func(t *testing.T) {
		cl := controlAs(t, c.Servers[2].RPCAddr, c.CA.Issue("agent", "a1"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The certificate works for its own node...
		if _, err := cl.Heartbeat(ctx, &api.HeartbeatRequest{Node: "a1"}); err != nil {
			t.Fatalf("a1's own heartbeat: %v", err)
		}
		// ...and nothing else.
		for _, node := range []string{"a1", "a2", ""} {
			_, err := cl.ReportPodStatus(ctx, &api.ReportPodStatusRequest{Node: node, Updates: forged})
			wantDenied(t, "a1 reporting a2's pod as node "+node, err)
		}
		_, err := cl.Heartbeat(ctx, &api.HeartbeatRequest{Node: "a2"})
		wantDenied(t, "a1 renewing a2's lease", err)
		unchanged(t)
	})

	t.Run("agent without the gossip key never becomes a node", func(t *testing.T) {
		keyless := c.NewAgentNode("a3")
		c.StartAgent(keyless, c.JoinArgs(keyless, c.CA.Issue("agent", "a3").Args()...))
		keyed := c.NewAgentNode("a4")
		c.StartAgent(keyed, c.JoinArgs(keyed, append(c.CA.Issue("agent", "a4").Args(), "--gossip-key-file", c.GossipKeyFile)...))
		// a4 started with a3 and had no more tries than it to get in.
		c.WaitNodeReady("a4")
		if r := c.CLI("get", "node", "a3"); r.Err == nil {
			t.Errorf("a3, without the gossip key, is a node:\n%s", r.Stdout)
		}
		members, err := c.Members(c.Servers[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range members {
			if m.Name == "a3" {
				t.Errorf("a3, without the gossip key, is a member: %+v", m)
			}
		}
	})

	t.Run("gossip server without a server certificate is never added to raft", func(t *testing.T) {
		key, err := os.ReadFile(c.GossipKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		k, err := gossip.ParseKey(string(key))
		if err != nil {
			t.Fatal(err)
		}
		var raftDials atomic.Int32
		var joins []string
		for _, s := range c.Servers {
			joins = append(joins, s.GossipAddr)
		}
		// Both hold the gossip key but no server certificate of their
		// name: one points at an agent, one at another server.
		impostors := map[string]string{"impostor-agent": c.Agents[0].RPCAddr, "impostor-server": c.Servers[0].RPCAddr}
		for name, rpc := range impostors {
			raftLis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raftLis.Close() })
			go func() {
				for {
					conn, err := raftLis.Accept()
					if err != nil {
						return
					}
					raftDials.Add(1)
					conn.Close()
				}
			}()
			ring, err := gossip.NewKeyring(k)
			if err != nil {
				t.Fatal(err)
			}
			addr, err := testcluster.FreePort("127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			g, err := gossip.Start(gossip.Config{
				Name: name, BindAddr: addr, Join: joins, Keyring: ring,
				Meta: &api.MemberMeta{Role: gossip.RoleServer, RpcAddr: rpc, RaftAddr: raftLis.Addr().String()},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Shutdown() })
		}
		wait.For(t, "the leader refusing both impostors", func() (bool, string) {
			leader := c.Leader()
			if leader == nil {
				return false, "no leader"
			}
			log, err := leader.Log()
			if err != nil {
				return false, err.Error()
			}
			var missing []string
			for name := range impostors {
				refused := false
				for _, line := range strings.Split(log, "\n") {
					if strings.Contains(line, "did not prove it; not adding it to raft") && strings.Contains(line, "node="+name+" ") {
						refused = true
					}
				}
				if !refused {
					missing = append(missing, name)
				}
			}
			return len(missing) == 0, "not refused yet: " + strings.Join(missing, ", ")
		})
		if n := raftDials.Load(); n != 0 {
			t.Errorf("the servers opened %d Raft connections to impostors", n)
		}
		for _, s := range c.Servers {
			log, err := s.Log()
			if err != nil {
				t.Fatal(err)
			}
			for name := range impostors {
				if strings.Contains(log, `msg="adding server to raft" node=`+name) {
					t.Errorf("%s added %s to raft", s.Name, name)
				}
			}
		}
	})

	t.Run("SIGHUP reloads certificates without a restart", func(t *testing.T) {
		s := c.Servers[0]
		c.Reload(s)
		wait.For(t, s.Name+" reloading", func() (bool, string) {
			log, err := s.Log()
			if err != nil {
				return false, err.Error()
			}
			return strings.Contains(log, "SIGHUP: certificates reloaded"), "no reload logged"
		})
		if !s.Running() {
			t.Fatal("SIGHUP stopped the server")
		}
		c.MustCLIAt(s.RPCAddr, "get", "nodes")
	})
}

// TestPlaintextOffLoopbackIsRefused starts a server and an agent on an
// address other hosts could reach, without TLS: each exits at once
// naming the flags to use, and leaves no data behind.
func TestPlaintextOffLoopbackIsRefused(t *testing.T) {
	bin := testcluster.Binary(t)
	dir := t.TempDir()
	port, err := testcluster.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(port)
	tests := []struct {
		name string
		args []string
	}{
		{name: "server", args: []string{"server", "--name", "s1", "--data-dir", filepath.Join(dir, "s1"), "--rpc-addr", "0.0.0.0:" + p}},
		{name: "agent", args: []string{"agent", "--name", "a1", "--data-dir", filepath.Join(dir, "a1"), "--gossip-addr", "0.0.0.0:" + p}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, tc.args...).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("%s did not exit with an error: %v\n%s", tc.name, err, out)
			}
			for _, want := range []string{"without TLS", "0.0.0.0:" + p, "--ca-file", "--insecure"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("refusal does not mention %q:\n%s", want, out)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Errorf("refused %s left %v behind", tc.name, entries)
			}
		})
	}
}
