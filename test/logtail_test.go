package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// A pod's output outlives its node: killed with kill -9, the agent leaves
// behind the lines it had shipped, and logs says where they come from.
func TestLogsOutliveTheirAgent(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1, AgentArgs: []string{"--log-ship-interval", "500ms"}})
	c.Submit(jobDoc("talker", "backoffLimit: 0", "Never", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.1; done"))
	wait.For(t, "30 lines shipped to the servers", func() (bool, string) {
		r := c.CLI("logs", "job/talker", "--tail", "1")
		return strings.HasPrefix(r.Stdout, "line ") && lineNumber(r.Stdout) >= 30, r.Stdout + r.Stderr
	})
	c.Submit(jobDoc("quiet", "backoffLimit: 0", "Never", "sleep 3600"))
	wait.For(t, "the quiet pod to run", func() (bool, string) {
		pods, err := c.Pods("quiet")
		return err == nil && len(pods) == 1 && pods[0].Status.Phase == "Running", fmt.Sprint(pods, err)
	})
	// A container that failed once and runs again: its first run's end is
	// kept too, for logs --previous.
	c.Submit(jobDoc("restarter", "backoffLimit: 3", "OnFailure", "if [ -f ran ]; then echo second run; sleep 3600; else touch ran; echo first run; exit 1; fi"))
	wait.Within(t, 60*time.Second, "the restarted container's second run", func() (bool, string) {
		r := c.CLI("logs", "job/restarter")
		return r.Stdout == "second run\n", r.Stdout + r.Stderr
	})
	wait.For(t, "logs --previous to show the first run", func() (bool, string) {
		r := c.CLI("logs", "job/restarter", "--previous")
		return r.Stdout == "first run\n", r.Stdout + r.Stderr
	})
	// The first run's end goes to the servers with the status that
	// reports the restart.
	wait.For(t, "the servers to know of the restart", func() (bool, string) {
		r := c.CLI("get", "pods", "-l", "job-name=restarter", "-o", "jsonpath={.items[0].status.containerStatuses[0].restartCount}")
		return r.Stdout == "1", r.Stdout + r.Stderr
	})
	// Killed, the agent's guard hands its pods over at once: each Job
	// gets a replacement pod, Pending with no agent left, so the lost
	// pods are asked for by name.
	podOf := func(job string) string {
		t.Helper()
		pods, err := c.Pods(job)
		if err != nil || len(pods) != 1 {
			t.Fatalf("pods of %s: %v %v", job, pods, err)
		}
		return pods[0].Metadata.Name
	}
	talker, quiet, restarter := podOf("talker"), podOf("quiet"), podOf("restarter")
	agent := c.Agents[0]
	c.Kill(agent)
	prev := c.CLI("logs", restarter, "--previous")
	if prev.Err != nil || prev.Stdout != "first run\n" || !strings.Contains(prev.Stderr, "kept by the servers") {
		t.Errorf("logs --previous after the agent died: %v %q %q", prev.Err, prev.Stdout, prev.Stderr)
	}
	// A pod that printed nothing left nothing behind: the error names the
	// agent, not the server that answered.
	q := c.CLI("logs", quiet)
	if q.Err == nil || !strings.Contains(q.Stderr, "agent a1 at "+agent.RPCAddr+" is unreachable, and the servers keep no log of pod") || strings.Contains(q.Stderr, "did not answer") {
		t.Errorf("logs of a silent pod whose agent died: %v, stderr %q; want the agent named", q.Err, q.Stderr)
	}
	r := c.CLI("logs", talker)
	if r.Err != nil {
		t.Fatalf("logs after the agent died: %v %s", r.Err, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "(agent a1 at "+agent.RPCAddr+" is unreachable; showing the last ") || !strings.Contains(r.Stderr, " lines kept by the servers)") {
		t.Errorf("stderr %q does not say where the lines come from", r.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) < 20 || lines[0] == "" {
		t.Fatalf("kept log has %d lines:\n%s", len(lines), r.Stdout)
	}
	for i := 1; i < len(lines); i++ {
		if lineNumber(lines[i]) != lineNumber(lines[i-1])+1 {
			t.Errorf("kept log skips from %q to %q", lines[i-1], lines[i])
		}
	}
	if r := c.CLI("logs", talker, "--tail", "3"); len(strings.Split(strings.TrimSpace(r.Stdout), "\n")) != 3 {
		t.Errorf("--tail 3 of the kept log: %q %q", r.Stdout, r.Stderr)
	}
	if out := c.MustCLI("describe", "pods", "-l", "job-name=talker"); !strings.Contains(out, "Last Log Lines:\n  line ") {
		t.Errorf("describe pod lacks the last log lines:\n%s", out)
	}
}

func lineNumber(s string) int {
	f := strings.Fields(strings.TrimSpace(s))
	if len(f) < 2 {
		return -1
	}
	n, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		return -1
	}
	return n
}

// TestContainerLogsAreRotated runs a pod that writes far more than the
// agent's --container-log-max-size: the agent keeps its log in at most
// --container-log-max-files files, each near the size, and `logs -f`
// follows the log across rotations to the pod's last line.
func TestContainerLogsAreRotated(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1, AgentArgs: []string{
		"--container-log-max-size", "4Ki", "--container-log-max-files", "3", "--log-ship-interval", "100ms"}})
	// 400 lines of 100 bytes over about 4 s: 40 KB, ten times the size.
	c.Submit(jobDoc("chatty", "", "Never", `i=0; while [ $i -lt 400 ]; do printf "%099d\n" $i; i=$((i+1)); case $i in *0) sleep 0.1;; esac; done; echo last line`))
	var pod string
	wait.Within(t, 30*time.Second, "the pod to run", func() (bool, string) {
		pods, err := c.Pods("chatty")
		if err != nil || len(pods) != 1 || pods[0].Status.Phase == "Pending" {
			return false, fmt.Sprint(pods, err)
		}
		pod = pods[0].Metadata.Name
		return true, ""
	})
	follow := c.StartCLI("logs", "-f", pod)
	c.WaitJob("chatty", 60*time.Second)
	if err := follow.Wait(30 * time.Second); err != nil {
		t.Fatalf("logs -f: %v\n%s", err, follow.Stderr())
	}
	out := follow.Stdout()
	if !strings.HasSuffix(out, "last line\n") {
		t.Errorf("logs -f did not follow the rotated log to its end; it ended with %q", out[max(0, len(out)-200):])
	}
	dir := filepath.Join(c.Agents[0].DataDir, "pods", pod)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "main.log") {
			logs = append(logs, e.Name())
			fi, _ := e.Info()
			// Checked every 100 ms: a file passes the size by what the pod
			// wrote meanwhile, at most a few KB here.
			if fi.Size() > 12<<10 {
				t.Errorf("%s is %d bytes, want about 4 KiB at most", e.Name(), fi.Size())
			}
		}
	}
	if len(logs) != 3 {
		t.Errorf("log files %v, want main.log and two rotated ones", logs)
	}
	if got := c.MustCLI("logs", pod); strings.Count(got, "\n") > 130 || !strings.HasSuffix(got, "last line\n") {
		t.Errorf("logs shows %d lines ending %q, want only the current file's, ending with the last line", strings.Count(got, "\n"), got[max(0, len(got)-100):])
	}
}
