package test

import (
	"strconv"
	"strings"
	"testing"

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
	agent := c.Agents[0]
	c.Kill(agent)
	r := c.CLI("logs", "job/talker")
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
	if r := c.CLI("logs", "job/talker", "--tail", "3"); len(strings.Split(strings.TrimSpace(r.Stdout), "\n")) != 3 {
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
