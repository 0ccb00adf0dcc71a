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
// 100,000 is worked through (100,000 pod objects, most of them Pending).
const hugeRSSBoundMiB = 1024

// One Job of parallelism 100,000 no longer wedges the cluster: servers
// stay within a memory bound, a small Job beside it runs at once, its
// delete is accepted within seconds under the load, and after every
// server restarts at once, reads never claim the store is empty.
func TestHugeParallelismNeverWedgesTheCluster(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2, AgentArgs: []string{"--max-pods", "20"}})
	c.Submit(jobDoc("huge", "completions: 100000\nparallelism: 100000", "Never", "true"))

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
	active := func() int {
		job, err := c.GetJob("huge")
		if err != nil {
			return 0
		}
		return job.Status.Active
	}
	// The whole 100,000 takes a few minutes on a loaded 2-core machine
	// (make bench measures it); a fifth of it is the same load.
	wait.Within(t, 90*time.Second, "the huge Job to have 20,000 pods", func() (bool, string) {
		sample()
		a := active()
		return a >= 20000, fmt.Sprintf("active %d, server peak RSS %d MiB", a, peak)
	})
	t.Logf("huge Job: %d pods created; server peak RSS so far %d MiB", active(), peak)

	start := time.Now()
	c.Submit(jobDoc("small", "", "Never", "true"))
	c.WaitJob("small", 30*time.Second)
	t.Logf("small Job beside it completed %s after submit", time.Since(start).Round(time.Millisecond))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("small Job took %s to complete beside the huge one, want under 10s", took)
	}

	// SIGTERM in the middle of the load stops a server within the bound;
	// it comes back from its data and the load goes on.
	for _, s := range c.Servers {
		if s == c.Leader() {
			continue
		}
		start = time.Now()
		c.Stop(s)
		t.Logf("%s stopped %s after SIGTERM under load", s.Name, time.Since(start).Round(time.Millisecond))
		if took := time.Since(start); took > 8*time.Second {
			t.Errorf("%s took %s to stop after SIGTERM under load, want under 8s", s.Name, took)
		}
		c.Start(s)
		break
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
