package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// kubectl runs the real kubectl binary against one server's HTTP address
// through a kubeconfig of its own.
type kubectl struct {
	t          *testing.T
	path       string
	kubeconfig string
}

// newKubectl finds kubectl on PATH and writes the kubeconfig `jobcluster
// kubeconfig` prints for the server at httpAddr. Without kubectl the test is skipped, except in CI, where that
// is a failure.
func newKubectl(t *testing.T, httpAddr string) *kubectl {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubectl not found on PATH (CI needs kubectl 1.32): %v", err)
		}
		t.Skipf("kubectl not found on PATH, skipping: %v", err)
	}
	// The kubeconfig is the one `jobcluster kubeconfig` prints.
	cfg, err := exec.Command(testcluster.Binary(t), "kubeconfig", "--server", "http://"+httpAddr).Output()
	if err != nil {
		t.Fatalf("jobcluster kubeconfig: %v", err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return &kubectl{t: t, path: path, kubeconfig: kc}
}

// run runs kubectl with args and returns its combined output and error.
func (k *kubectl) run(args ...string) (string, error) {
	cmd := exec.Command(k.path, append([]string{"--kubeconfig", k.kubeconfig, "--request-timeout", "10s"}, args...)...)
	cmd.Dir = filepath.Join("..", "examples")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// must runs kubectl and fails the test if it fails.
func (k *kubectl) must(args ...string) string {
	k.t.Helper()
	out, err := k.run(args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%q", strings.Join(args, " "), err, out)
	}
	return out
}

// TestKubectlBookCommands runs the book's commands verbatim with the real
// kubectl against a follower of a three-server cluster with agents.
func TestKubectlBookCommands(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2, HTTP: true})
	k := newKubectl(t, c.Servers[1].HTTPAddr)

	if out := k.must("create", "-f", "batch-job.yaml"); strings.TrimSpace(out) != "job.batch/batch-job created" {
		t.Fatalf("create printed %q", out)
	}
	out, err := k.run("create", "-f", "batch-job.yaml")
	if err == nil || !strings.Contains(out, `jobs.batch "batch-job" already exists`) {
		t.Errorf("second create: err %v, output %q; want AlreadyExists", err, out)
	}

	wait.For(t, "kubectl get jobs lists batch-job", func() (bool, string) {
		out, err := k.run("get", "jobs")
		return err == nil && strings.HasPrefix(out, "NAME") && hasFields(out, "NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE") &&
			strings.Contains(out, "batch-job "), out
	})
	var pod string
	wait.For(t, "kubectl get po shows the Job's pod running", func() (bool, string) {
		out, err := k.run("get", "po")
		if err != nil || !hasFields(out, "NAME", "READY", "STATUS", "RESTARTS", "AGE") {
			return false, out
		}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 5 && strings.HasPrefix(f[0], "batch-job-") && f[2] == "Running" {
				pod = f[0]
				return true, out
			}
		}
		return false, out
	})
	wait.For(t, "kubectl logs shows the pod's first line", func() (bool, string) {
		out, err := k.run("logs", pod)
		return err == nil && strings.Contains(out, "Batch job starting"), out
	})

	if out := k.must("get", "po", "-o", "wide"); !hasFields(out, "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE") {
		t.Errorf("get po -o wide lacks the wide columns:\n%s", out)
	}
	if out := k.must("get", "jobs", "-o", "name"); strings.TrimSpace(out) != "job.batch/batch-job" {
		t.Errorf("get jobs -o name printed %q", out)
	}
	out, err = k.run("get", "job", "nope")
	if err == nil || !strings.Contains(out, `jobs.batch "nope" not found`) {
		t.Errorf("get job nope: err %v, output %q; want NotFound", err, out)
	}
}

// hasFields says whether out's first line is exactly these column names.
func hasFields(out string, names ...string) bool {
	first, _, _ := strings.Cut(out, "\n")
	return strings.Join(strings.Fields(first), " ") == strings.Join(names, " ")
}
