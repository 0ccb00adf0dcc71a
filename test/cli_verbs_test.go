package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/test/testcluster"
)

func labelledJob(name, app string) string {
	return strings.Replace(strings.Replace(echoJob, "name: echo", "name: "+name+"\n  labels:\n    app: "+app, 1), "echo from", name+" from", 1)
}

// delete takes a file, a label selector or --all, as kubectl's does, and
// version names the client's and the server's release.
func TestDeleteByFileSelectorAndAll(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1})
	file := filepath.Join(t.TempDir(), "jobs.yaml")
	if err := os.WriteFile(file, []byte(labelledJob("f1", "file")+"---\n"+labelledJob("f2", "file")), 0o600); err != nil {
		t.Fatal(err)
	}
	c.MustCLI("submit", "-n", "ops", file)
	for _, j := range []string{"l1", "l2", "keep"} {
		app := "batch"
		if j == "keep" {
			app = "other"
		}
		if r := c.CLIAt(c.Addrs(), labelledJob(j, app), "submit", "-n", "ops", "-"); r.Err != nil {
			t.Fatalf("submit %s: %s", j, r.Stderr)
		}
	}

	// Shell completion offers kinds, then the names of that kind's objects.
	if out := c.MustCLI("__complete", "-n", "ops", "delete", "jobs", ""); !strings.HasPrefix(out, "f1\nf2\nkeep\nl1\nl2\n:4\n") {
		t.Errorf("completion of job names: %q", out)
	}
	if out := c.MustCLI("__complete", "-n", "ops", "get", "job/l"); !strings.HasPrefix(out, "job/l1\njob/l2\n:4\n") {
		t.Errorf("completion of job/NAME: %q", out)
	}
	if out := c.MustCLI("completion", "bash"); !strings.Contains(out, "__start_jobcluster") {
		t.Errorf("completion bash printed no bash completion script")
	}
	if out := c.MustCLI("delete", "-n", "ops", "-f", file); out != "job.batch \"f1\" deleted\njob.batch \"f2\" deleted\n" {
		t.Errorf("delete -f: %q", out)
	}
	if out := c.MustCLI("delete", "jobs", "-n", "ops", "-l", "app=batch"); out != "job.batch \"l1\" deleted\njob.batch \"l2\" deleted\n" {
		t.Errorf("delete -l app=batch: %q", out)
	}
	if out := strings.TrimSpace(c.MustCLI("get", "jobs", "-n", "ops", "-o", "name")); out != "job.batch/keep" {
		t.Errorf("jobs left in ops: %q, want only keep", out)
	}
	if out := c.MustCLI("delete", "jobs", "--all", "-n", "ops"); out != "job.batch \"keep\" deleted\n" {
		t.Errorf("delete --all: %q", out)
	}
	if r := c.CLI("delete", "jobs", "--all", "-n", "ops"); r.Err != nil || strings.TrimSpace(r.Stderr) != "No resources found in ops namespace." {
		t.Errorf("delete --all of nothing: %v %q", r.Err, r.Stderr)
	}
	if r := c.CLI("delete", "fixed/batch-job.yaml"); r.Err == nil || !strings.Contains(r.Stderr, "pass it with -f fixed/batch-job.yaml") {
		t.Errorf("delete of a path without -f: %q", r.Stderr)
	}

	out := c.MustCLI("version")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Client Version: v") || !strings.HasPrefix(lines[1], "Server Version: v") {
		t.Errorf("version:\n%s", out)
	}
}

// create job --image, create cronjob, label and annotate work as kubectl's.
func TestCreateFromFlagsLabelAndAnnotate(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1})
	if out := c.MustCLI("create", "job", "hello", "--image=busybox", "--", "echo", "hello world"); out != "job.batch/hello created\n" {
		t.Errorf("create job --image: %q", out)
	}
	if out := c.MustCLI("wait", "--for=condition=complete", "job/hello", "--timeout=30s"); out != "job.batch/hello condition met\n" {
		t.Errorf("wait --for=condition=complete: %q", out)
	}
	if out := c.MustCLI("logs", "job/hello"); out != "hello world\n" {
		t.Errorf("logs of the created Job: %q", out)
	}
	if r := c.CLI("wait", "--for=condition=failed", "job/hello", "--timeout=1s"); r.Err == nil || !strings.Contains(r.Stderr, "timed out waiting for the condition on jobs/hello") {
		t.Errorf("wait for a condition that never comes: %v %q", r.Err, r.Stderr)
	}
	if out := c.MustCLI("create", "cronjob", "tick", "--image=busybox", "--schedule=0 3 * * *", "--", "date"); out != "cronjob.batch/tick created\n" {
		t.Errorf("create cronjob: %q", out)
	}
	if out := c.MustCLI("get", "cronjob", "tick", "-o", "jsonpath={.spec.schedule} {.spec.jobTemplate.spec.template.spec.restartPolicy} {.spec.jobTemplate.spec.template.spec.containers[0].command}"); out != `0 3 * * * OnFailure ["date"]` {
		t.Errorf("the created CronJob: %q", out)
	}

	if out := c.MustCLI("label", "job", "hello", "team=ml", "tier=batch"); out != "job.batch/hello labeled\n" {
		t.Errorf("label: %q", out)
	}
	if r := c.CLI("label", "job", "hello", "team=ops"); r.Err == nil || !strings.Contains(r.Stderr, "'team' already has a value (ml), and --overwrite is false") {
		t.Errorf("label without --overwrite: %q", r.Stderr)
	}
	c.MustCLI("label", "job/hello", "team=ops", "tier-", "--overwrite")
	if out := c.MustCLI("get", "jobs", "-l", "team=ops", "-L", "team", "-o", "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier"); out != "NAME    TIER\nhello   <none>\n" {
		t.Errorf("after relabelling: %q", out)
	}
	if out := c.MustCLI("annotate", "cronjob", "tick", "owner=ops@example.com"); out != "cronjob.batch/tick annotated\n" {
		t.Errorf("annotate: %q", out)
	}
	if out := c.MustCLI("get", "cj", "tick", "-o", "jsonpath={.metadata.annotations.owner}"); out != "ops@example.com" {
		t.Errorf("annotation: %q", out)
	}
	// Kubernetes fields that mean nothing here are dropped with kubectl's
	// Warning line; those we cannot honour are refused by name.
	withSA := strings.Replace(labelledJob("sa", "x"), "      restartPolicy: Never", "      restartPolicy: Never\n      serviceAccountName: builder", 1)
	r := c.CLIAt(c.Addrs(), withSA, "submit", "-")
	if r.Err != nil || r.Stdout != "job.batch/sa created\n" ||
		r.Stderr != "Warning: spec.template.spec.serviceAccountName: ignored by jobcluster: there are no service accounts; pods get no API token\n" {
		t.Errorf("submit with serviceAccountName: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}
	withInit := strings.Replace(labelledJob("init", "x"), "      restartPolicy: Never", "      restartPolicy: Never\n      initContainers: [{name: i, image: busybox}]", 1)
	if r := c.CLIAt(c.Addrs(), withInit, "submit", "-"); r.Err == nil ||
		!strings.Contains(r.Stderr, "spec.template.spec.initContainers: Forbidden: not supported by jobcluster: init containers are not run") {
		t.Errorf("submit with initContainers: %v %q", r.Err, r.Stderr)
	}
	c.MustCLI("delete", "job", "hello")
	// Already gone when the wait begins: kubectl prints nothing and succeeds.
	if out := c.MustCLI("wait", "--for=delete", "job", "hello"); out != "" {
		t.Errorf("wait --for=delete: %q", out)
	}
}
