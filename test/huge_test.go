package test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// rssMiB is a process's resident memory in MiB, from /proc.
func rssMiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.Atoi(f[1])
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// hugeRSSBoundMiB is the most a server may hold while a Job of parallelism
// 200,000 is worked through (its pod objects, most of them Pending).
const hugeRSSBoundMiB = 1024

// hugeCompletions is how many pods the huge Job needs: its parallelism is
// 200,000, as the manifest that once wedged the cluster asked, and its
// completions bound the pods to what a test on two cores creates in a
// minute or two (make bench creates 100,000).
const hugeCompletions = 20000

// One Job of parallelism 200,000 no longer wedges the cluster: servers
// stay within a memory bound, a leader change mid-way creates no pod
// twice, a small Job beside it runs at once, its delete is accepted
// within seconds under the load, and after every server restarts at
// once, reads never claim the store is empty.
func TestHugeParallelismNeverWedgesTheCluster(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2, AgentArgs: []string{"--max-pods", "20"}})
	c.Submit(jobDoc("huge", fmt.Sprintf("completions: %d\nparallelism: 200000", hugeCompletions), "Never", "true"))

	peak := 0
	sample := func() {
		for _, s := range c.Servers {
			if pid := s.PID(); pid != 0 {
				if mib, err := rssMiB(pid); err == nil {
					peak = max(peak, mib)
				}
			}
		}
	}
	created := func() int {
		job, err := c.GetJob("huge")
		if err != nil {
			return 0
		}
		return job.Status.Active + job.Status.Succeeded + job.Status.Failed
	}
	wait.Within(t, 60*time.Second, "the huge Job to be a third created", func() (bool, string) {
		sample()
		n := created()
		return n >= hugeCompletions/3, fmt.Sprintf("pods %d, server peak RSS %d MiB", n, peak)
	})

	// SIGTERM to the leader in the middle of the load: it stops within the
	// bound, another takes over and goes on creating, and it comes back
	// from its data.
	old := c.Leader()
	start := time.Now()
	c.Stop(old)
	t.Logf("leader %s stopped %s after SIGTERM under load, with %d pods created", old.Name, time.Since(start).Round(time.Millisecond), created())
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("%s took %s to stop after SIGTERM under load, want under 8s", old.Name, took)
	}
	before := created()
	next := c.WaitForLeader()
	wait.Within(t, 30*time.Second, "the new leader to go on creating pods", func() (bool, string) {
		sample()
		n := created()
		return n >= before+2*500, fmt.Sprintf("pods %d, %d when %s stopped", n, before, old.Name)
	})
	t.Logf("%s leads and goes on creating: %d pods", next.Name, created())
	c.Start(old)

	start = time.Now()
	c.Submit(jobDoc("small", "", "Never", "true"))
	c.WaitJob("small", 30*time.Second)
	t.Logf("small Job beside it completed %s after submit", time.Since(start).Round(time.Millisecond))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("small Job took %s to complete beside the huge one, want under 10s", took)
	}

	wait.Within(t, 120*time.Second, "every pod of the huge Job to be created", func() (bool, string) {
		sample()
		n := created()
		return n >= hugeCompletions, fmt.Sprintf("pods %d of %d, server peak RSS %d MiB", n, hugeCompletions, peak)
	})
	// Pods that did not fail are never more than completions: the new
	// leader created none that the old one had already created.
	pods, err := c.Pods("huge")
	if err != nil {
		t.Fatal(err)
	}
	live, names := 0, map[string]bool{}
	for _, pod := range pods {
		names[pod.Metadata.Name] = true
		if pod.Status.Phase != "Failed" {
			live++
		}
	}
	t.Logf("%d pods of the huge Job, %d of them not failed", len(pods), live)
	if live != hugeCompletions || len(names) != len(pods) {
		t.Errorf("%d pods (%d names) that did not fail, want exactly the %d completions", live, len(names), hugeCompletions)
	}

	start = time.Now()
	c.MustCLI("delete", "job", "huge")
	took := time.Since(start)
	t.Logf("delete of the huge Job accepted after %s", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("delete took %s under load, want under 5s", took)
	}
	sample()
	t.Logf("server peak RSS %d MiB (bound %d MiB)", peak, hugeRSSBoundMiB)
	if peak > hugeRSSBoundMiB {
		t.Errorf("server peak RSS %d MiB, over the bound of %d MiB", peak, hugeRSSBoundMiB)
	}

	// Every server at once, as after a power loss: a read is either
	// refused while a server catches up, or shows the small Job.
	for _, s := range c.Servers {
		c.Kill(s)
	}
	for _, s := range c.Servers {
		c.Start(s)
	}
	start = time.Now()
	seen := map[string]bool{}
	wait.Within(t, 60*time.Second, "every server to answer with the small Job", func() (bool, string) {
		for _, s := range c.Servers {
			r := c.CLIAt(s.RPCAddr, "", "get", "jobs", "--timeout", "3s")
			if strings.Contains(r.Stdout, "No resources found") || (r.Err == nil && !strings.Contains(r.Stdout, "small")) {
				t.Fatalf("%s answered as if the store were empty after the restart: %q", s.Name, r.Stdout)
			}
			if r.Err == nil {
				seen[s.Name] = true
			}
		}
		return len(seen) == len(c.Servers), fmt.Sprintf("answered: %v", seen)
	})
	t.Logf("all servers serving %s after a full restart", time.Since(start).Round(time.Millisecond))
	if _, err := c.GetJob("huge"); err == nil {
		t.Errorf("the deleted huge Job is back after the restart")
	}
}
