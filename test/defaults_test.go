package test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// `jobcluster server` and `jobcluster agent` started on one machine with
// no flags at all take distinct names (<hostname> and <hostname>-agent),
// find each other, and run a Job.
func TestServerAndAgentWithDefaultFlagsOnOneHost(t *testing.T) {
	bin := testcluster.Binary(t)
	wait.Within(t, 20*time.Second, "the default addresses to be free", func() (bool, string) {
		for _, addr := range devAddrs {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return false, fmt.Sprintf("%s is taken: %v", addr, err)
			}
			l.Close()
		}
		return true, ""
	})
	dir := t.TempDir()
	start := func(role string) *bytes.Buffer {
		var out bytes.Buffer
		cmd := exec.Command(bin, role)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
			if t.Failed() {
				t.Logf("==== jobcluster %s\n%s", role, out.String())
			}
		})
		return &out
	}
	start("server")
	start("agent")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cli := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), "JOBCLUSTER_ADDR=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	wait.Within(t, 30*time.Second, "the agent to be a Ready node", func() (bool, string) {
		out, _ := cli("", "get", "nodes")
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == host+"-agent" && f[1] == "Ready" {
				return true, ""
			}
		}
		return false, out
	})
	out, err := cli("", "members")
	if err != nil || !strings.Contains(out, host+" ") || !strings.Contains(out, host+"-agent") {
		t.Errorf("members: %v\n%s", err, out)
	}
	if out, err := cli(jobDoc("defaults", "", "Never", "echo ran"), "submit", "-"); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	wait.Within(t, 30*time.Second, "the Job to complete", func() (bool, string) {
		out, _ := cli("", "get", "job", "defaults", "-o", "jsonpath={.status.succeeded}")
		return out == "1", out
	})
}
