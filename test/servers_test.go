package test

import (
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// memberStatus is a member's gossip status as server at sees it.
func memberStatus(t *testing.T, c *testcluster.Cluster, at *testcluster.Node, name string) (testcluster.Member, string) {
	t.Helper()
	ms, err := c.Members(at)
	if err != nil {
		return testcluster.Member{}, err.Error()
	}
	for _, m := range ms {
		if m.Name == name {
			return m, ""
		}
	}
	return testcluster.Member{}, name + " is not listed"
}

// A stopped server stays a member and a voter: two of three servers
// stopped with SIGTERM leave no majority (they are still counted), and
// both come back from their data. Only `leave` and `members remove` take
// a server out, and an alive server cannot be removed behind its back.
func TestServersLeaveOnlyWhenAsked(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1})
	s1, s2, s3 := c.Servers[0], c.Servers[1], c.Servers[2]

	// SIGTERM stops a server within the bound, and it does not leave.
	start := time.Now()
	c.Stop(s1)
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("server took %s to stop after SIGTERM, want under 8s", took)
	}
	wait.For(t, "s2 to see s1 failed, not left", func() (bool, string) {
		m, why := memberStatus(t, c, s2, "s1")
		return m.Status == "failed", "s1 is " + m.Status + why
	})
	c.Stop(s2)
	// s1 and s2 are still voters, so s3 alone is no majority: a write
	// cannot be accepted until one of them is back.
	r := c.CLIAt(s3.RPCAddr, "", "delete", "job", "nothing", "--timeout", "3s")
	if r.Err == nil || strings.Contains(r.Stderr, "not found") {
		t.Fatalf("a write was decided by s3 alone after s1 and s2 stopped: %q %q", r.Stdout, r.Stderr)
	}
	// The client says what happened: servers that are down, and one that
	// answers but has no leader, each in its own words.
	if !strings.Contains(r.Stderr, "no leader elected yet (last leader ") {
		t.Errorf("write to a server without a majority: stderr %q, want it to say no leader is elected and name the last one", r.Stderr)
	}
	r = c.CLIAt(s1.RPCAddr, "", "get", "jobs", "--timeout", "3s")
	if !strings.Contains(r.Stderr, "no jobcluster server reachable at "+s1.RPCAddr) || !strings.Contains(r.Stderr, `start one with "jobcluster dev"`) {
		t.Errorf("read from a stopped server: stderr %q, want no server reachable with the dev hint", r.Stderr)
	}
	c.Start(s1)
	c.Start(s2)
	c.WaitForLeader()
	c.Submit(jobDoc("after-restart", "", "Never", "true"))
	if job := c.WaitJob("after-restart", 30*time.Second); job.Status.Succeeded != 1 {
		t.Fatalf("job after the restart: %+v", job.Status)
	}

	// A server that accepts connections but does not answer (frozen here)
	// is busy, not absent.
	c.Freeze(s1)
	r = c.CLIAt(s1.RPCAddr, "", "get", "jobs", "--timeout", "10s")
	c.Thaw(s1)
	if !strings.Contains(r.Stderr, "did not answer within") || strings.Contains(r.Stderr, "no jobcluster server reachable") {
		t.Errorf("read from a frozen server: stderr %q, want it to say the server did not answer in time", r.Stderr)
	}

	// An alive server cannot be removed; a killed one can.
	if r := c.CLI("members", "remove", "s2"); r.Err == nil || !strings.Contains(r.Stderr, "alive: run `jobcluster leave") {
		t.Fatalf("members remove of an alive server: err=%v stderr=%q, want a refusal saying it is alive", r.Err, r.Stderr)
	}
	c.Kill(s3)
	wait.For(t, "s3 removed from Raft", func() (bool, string) {
		r := c.CLIAt(s1.RPCAddr+","+s2.RPCAddr, "", "members", "remove", "s3", "--timeout", "5s")
		return r.Err == nil && strings.Contains(r.Stdout, "server s3 removed"), r.Stdout + r.Stderr
	})
	// With s3 out of the configuration, s1 and s2 are the majority.
	c.Stop(s2) // s1 alone of {s1, s2}: no majority while s2 is down
	c.Start(s2)
	c.WaitForLeader()

	// leave takes s2 out for good and stops its process; s1 goes on alone.
	out := c.MustCLIAt(s2.RPCAddr, "leave")
	if !strings.Contains(out, "left the cluster") {
		t.Fatalf("leave printed %q", out)
	}
	wait.For(t, "s2's process to stop after leaving", func() (bool, string) { return !s2.Running(), "s2 still runs" })
	wait.For(t, "s1 to lead alone", func() (bool, string) {
		m, why := memberStatus(t, c, s1, "s1")
		return m.Leader, why
	})
	c.Submit(jobDoc("after-leave", "", "Never", "true"))
	if job := c.WaitJob("after-leave", 30*time.Second); job.Status.Succeeded != 1 {
		t.Fatalf("job after s2 left: %+v", job.Status)
	}
}
