package test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

const sleepJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "sleep 1"]
`

func job(name string) string { return strings.ReplaceAll(sleepJob, "%s", name) }

// TestThreeServersSurviveLeaderLossAndFullRestart walks a three-server
// cluster through what operators do to it: submit through a follower, kill
// the leader, restart everything from disk.
func TestThreeServersSurviveLeaderLossAndFullRestart(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3})
	leader := c.WaitForLeader()

	var follower *testcluster.Node
	for _, s := range c.Servers {
		if s != leader {
			follower = s
			break
		}
	}
	r := c.CLIAt(follower.RPCAddr, job("through-follower"), "submit", "-")
	if r.Err != nil || strings.TrimSpace(r.Stdout) != "job.batch/through-follower created" {
		t.Fatalf("submit through follower %s: err=%v stdout=%q stderr=%q", follower.Name, r.Err, r.Stdout, r.Stderr)
	}
	for _, s := range c.Servers {
		wait.Within(t, 10*time.Second, "job visible on "+s.Name, func() (bool, string) {
			r := c.CLIAt(s.RPCAddr, "", "get", "job", "through-follower", "-o", "name")
			return r.Err == nil && strings.TrimSpace(r.Stdout) == "job.batch/through-follower", r.Stderr
		})
	}

	c.Kill(leader)
	newLeader := c.WaitForLeader()
	if newLeader == leader {
		t.Fatalf("killed leader %s still reported as leader", leader.Name)
	}
	c.Submit(job("after-leader-loss"))

	// The old leader comes back from its data and catches up.
	c.Start(leader)
	wait.Within(t, 20*time.Second, leader.Name+" catches up", func() (bool, string) {
		r := c.CLIAt(leader.RPCAddr, "", "get", "job", "after-leader-loss", "-o", "name")
		return r.Err == nil, r.Stderr
	})

	// Every server restarted at once from its data dir: everything is
	// still there and one cluster (one leader) forms again.
	for _, s := range c.Servers {
		c.Kill(s)
	}
	for _, s := range c.Servers {
		c.Start(s)
	}
	c.WaitForLeader()
	for _, name := range []string{"through-follower", "after-leader-loss"} {
		wait.Within(t, 20*time.Second, name+" after full restart", func() (bool, string) {
			r := c.CLI("get", "job", name, "-o", "name")
			return r.Err == nil, r.Stderr
		})
	}
	c.Submit(job("after-full-restart"))
	assertOneCluster(t, c)
}

// assertOneCluster checks that all servers agree on one leader and reach
// the same applied index.
func assertOneCluster(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	wait.Within(t, 20*time.Second, "all servers agree on one leader and index", func() (bool, string) {
		leaders := map[string]bool{}
		indexes := map[uint64]bool{}
		for _, s := range c.Servers {
			ms, err := c.Members(s)
			if err != nil {
				return false, err.Error()
			}
			for _, m := range ms {
				if m.Role == "server" && m.Leader {
					leaders[m.Name] = true
				}
				if m.Name == s.Name {
					indexes[m.AppliedIndex] = true
				}
			}
		}
		return len(leaders) == 1 && len(indexes) == 1, "leaders " + keys(leaders) + " indexes " + keys(indexes)
	})
}

func keys[K comparable](m map[K]bool) string {
	var out []string
	for k := range m {
		out = append(out, fmt.Sprint(k))
	}
	return strings.Join(out, ",")
}

// TestSingleServerRestartDoesNotBootstrapAgain restarts a lone server: it
// must come back with its data rather than as a new, empty cluster.
func TestSingleServerRestartDoesNotBootstrapAgain(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1})
	c.Submit(job("kept"))
	c.Restart(c.Servers[0])
	c.WaitForLeader()
	wait.Within(t, 10*time.Second, "job kept after restart", func() (bool, string) {
		r := c.CLI("get", "job", "kept", "-o", "name")
		return r.Err == nil, r.Stderr
	})
	r := c.CLIAt(c.Addrs(), job("kept"), "submit", "-")
	if r.Err == nil || !strings.Contains(r.Stderr, `jobs.batch "kept" already exists`) {
		t.Fatalf("second submit of the same name: err=%v stderr=%q, want already exists", r.Err, r.Stderr)
	}
}

// TestInvalidFileCreatesNothing submits a file with one bad document.
func TestInvalidFileCreatesNothing(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1})
	manifest := job("good") + "---\n" + strings.Replace(job("bad"), "restartPolicy: Never", "restartPolicy: Always", 1)
	r := c.CLIAt(c.Addrs(), manifest, "submit", "-")
	if r.Err == nil {
		t.Fatalf("submit of a file with an invalid document succeeded: %s", r.Stdout)
	}
	want := `spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`
	if !strings.Contains(r.Stderr, want) {
		t.Fatalf("stderr = %q, want it to contain %q", r.Stderr, want)
	}
	if r := c.CLI("get", "job", "good"); r.Err == nil || !strings.Contains(r.Stderr, `jobs.batch "good" not found`) {
		t.Fatalf("get job good after refused file: err=%v stderr=%q, want not found", r.Err, r.Stderr)
	}
}
