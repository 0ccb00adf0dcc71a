package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestProcessPodsAreIsolated runs process pods on an agent with its
// defaults (a cgroup per pod): a memory hog ends OOMKilled with exit code
// 137, runAsUser and runAsGroup decide the pod's user, and deleting a Job
// kills a child that left the pod's process group with setsid.
func TestProcessPodsAreIsolated(t *testing.T) {
	testcluster.RequireRoot(t, "cgroups and users need root")
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1})
	// A pod of another user passes through the test's directories (0700)
	// to its working directory, as through an agent's data directory.
	for d := c.Agents[0].DataDir; strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}

	c.Submit(`apiVersion: batch/v1
kind: Job
metadata:
  name: hog
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done"]
        resources:
          limits:
            memory: 32Mi
`)
	c.Submit(`apiVersion: batch/v1
kind: Job
metadata:
  name: who
spec:
  template:
    spec:
      restartPolicy: Never
      securityContext:
        runAsUser: 1234
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo $(id -u):$(id -g); echo written > mine && cat mine"]
        securityContext:
          runAsGroup: 2345
`)
	c.Submit(jobDoc("escapee", "", "Never", `setsid sleep 300 & echo $! > pidfile; echo started $!; sleep 300`))

	if typ, _ := c.WaitJob("hog", 60*time.Second).Finished(); typ != "Failed" {
		t.Errorf("the memory hog's Job ended %s, want Failed", typ)
	}
	pods, err := c.Pods("hog")
	if err != nil || len(pods) != 1 || len(pods[0].Status.ContainerStatuses) != 1 {
		t.Fatalf("pods of hog: %v, %v", pods, err)
	}
	if term := pods[0].Status.ContainerStatuses[0].State.Terminated; term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("the memory hog's container ended %+v, want OOMKilled with exit code 137", term)
	}

	if typ, _ := c.WaitJob("who", 60*time.Second).Finished(); typ != "Complete" {
		t.Errorf("Job who ended %s, want Complete", typ)
	}
	pods, err = c.Pods("who")
	if err != nil || len(pods) != 1 {
		t.Fatalf("pods of who: %v, %v", pods, err)
	}
	if got := c.MustCLI("logs", pods[0].Metadata.Name); got != "1234:2345\nwritten\n" {
		t.Errorf("the pod ran as and wrote %q, want 1234:2345 and a file written in its working directory", got)
	}

	var child int
	wait.Within(t, 30*time.Second, "the escapee's setsid child to start", func() (bool, string) {
		pods, err := c.Pods("escapee")
		if err != nil || len(pods) != 1 {
			return false, fmt.Sprint(pods, err)
		}
		r := c.CLI("logs", pods[0].Metadata.Name)
		f := strings.Fields(r.Stdout)
		if len(f) == 2 && f[0] == "started" {
			child, _ = strconv.Atoi(f[1])
		}
		return child > 0, r.Stdout + r.Stderr
	})
	c.MustCLI("delete", "job", "escapee")
	wait.Within(t, 30*time.Second, "the setsid child to be killed with its pod", func() (bool, string) {
		err := syscall.Kill(child, 0)
		return err == syscall.ESRCH, fmt.Sprintf("kill -0 %d: %v", child, err)
	})
}
