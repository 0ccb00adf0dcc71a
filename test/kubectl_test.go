package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// quickJob is a Job whose one pod prints a line and succeeds.
const quickJob = `apiVersion: batch/v1
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
        command: ["sh", "-c", "echo done"]
`

// nightlyCronJob is a CronJob that does not fire during a test.
const nightlyCronJob = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", "echo nightly"]
`

// writeManifest writes a manifest into the test's directory and returns
// its path.
func writeManifest(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKubectlChangesObjects runs kubectl's writing and inspecting commands
// (label, annotate, patch, describe, events, wait, delete, api-resources)
// against a follower of a three-server cluster.
func TestKubectlChangesObjects(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1, HTTP: true})
	k := newKubectl(t, c.Servers[1].HTTPAddr)

	k.must("create", "-f", "batch-job.yaml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"label", "job", "batch-job", "team=ml"}, "job.batch/batch-job labeled"},
		{[]string{"annotate", "job", "batch-job", "owner=ana"}, "job.batch/batch-job annotated"},
		{[]string{"patch", "job", "batch-job", "--type=merge", "-p", `{"spec":{"suspend":true}}`}, "job.batch/batch-job patched"},
		{[]string{"label", "job", "batch-job", "team=ops", "--overwrite"}, "job.batch/batch-job labeled"},
	} {
		if out := k.must(tc.args...); strings.TrimSpace(out) != tc.want {
			t.Errorf("kubectl %s printed %q, want %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
	wait.For(t, "the patches show in get", func() (bool, string) {
		out, err := k.run("get", "job", "batch-job", "-o", `jsonpath={.metadata.labels.team} {.metadata.annotations.owner} {.spec.suspend}`)
		return err == nil && out == "ops ana true", out
	})
	out, err := k.run("patch", "job", "batch-job", "-p", `{"spec":{"completions":3}}`)
	if err == nil || !strings.Contains(out, `The Job "batch-job" is invalid`) || !strings.Contains(out, "spec.completions") || !strings.Contains(out, "field is immutable") {
		t.Errorf("patching completions: err %v, output %q; want field is immutable", err, out)
	}
	k.must("patch", "job", "batch-job", "--type=json", "-p", `[{"op":"replace","path":"/spec/suspend","value":false}]`)

	var pod string
	wait.For(t, "the resumed Job runs a pod", func() (bool, string) {
		out, err := k.run("get", "pods", "-l", "job-name=batch-job", "--field-selector", "status.phase=Running", "-o", "name")
		pod = strings.TrimPrefix(strings.TrimSpace(out), "pod/")
		return err == nil && strings.HasPrefix(pod, "batch-job-") && !strings.Contains(pod, "\n"), out
	})
	wait.For(t, "kubectl describe job shows the pods and events", func() (bool, string) {
		out, err := k.run("describe", "job", "batch-job")
		return err == nil && hasLine(out, "Name:", "batch-job") && hasLine(out, "Labels:", "team=ops") &&
			hasLine(out, "Pods Statuses:", "1 Active") && hasLine(out, "Events:") && strings.Contains(out, "SuccessfulCreate"), out
	})
	if out := k.must("describe", "pod", pod); !hasLine(out, "Name:", pod) || !hasLine(out, "Status:", "Running") || !hasLine(out, "Controlled By:", "Job/batch-job") {
		t.Errorf("describe pod:\n%s", out)
	}
	// kubelet's conditions, and the node's IP as the pod's (host network).
	if out := k.must("wait", "--for=condition=Ready", "pod/"+pod, "--timeout=30s"); strings.TrimSpace(out) != "pod/"+pod+" condition met" {
		t.Errorf("kubectl wait --for=condition=Ready printed %q", out)
	}
	if out := k.must("get", "pod", pod, "-o", "jsonpath={.status.podIP} {.status.hostIP}"); len(strings.Fields(out)) != 2 || strings.Fields(out)[0] != strings.Fields(out)[1] {
		t.Errorf("podIP and hostIP: %q, want the same address twice", out)
	}
	if out := k.must("get", "events"); !hasFields(out, "LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE") || !strings.Contains(out, "job/batch-job") {
		t.Errorf("get events:\n%s", out)
	}
	if out := k.must("get", "events", "--field-selector", "involvedObject.name=batch-job"); !strings.Contains(out, "SuccessfulCreate") {
		t.Errorf("get events for batch-job:\n%s", out)
	}
	if out := k.must("get", "events", "--field-selector", "involvedObject.name=nope"); !strings.Contains(out, "No resources found in default namespace.") {
		t.Errorf("get events for nope:\n%s", out)
	}

	out = k.must("api-resources")
	for _, want := range []string{"jobs batch/v1 true Job", "cronjobs cj batch/v1 true CronJob", "pods po v1 true Pod", "nodes no v1 false Node", "events ev v1 true Event"} {
		if !hasRow(out, want) {
			t.Errorf("api-resources lacks %q:\n%s", want, out)
		}
	}
	if out := k.must("api-resources", "--verbs=patch", "-o", "name"); strings.Join(strings.Fields(out), " ") != "configmaps secrets cronjobs.batch jobs.batch" {
		t.Errorf("api-resources --verbs=patch printed %q", out)
	}
	if out := k.must("get", "all"); !strings.Contains(out, "job.batch/batch-job") || !strings.Contains(out, "pod/"+pod) {
		t.Errorf("get all:\n%s", out)
	}

	quick := writeManifest(t, "quick.yaml", fmt.Sprintf(quickJob, "quick"))
	k.must("create", "-f", quick)
	if out := k.must("wait", "--for=condition=complete", "job/quick", "--timeout=60s"); strings.TrimSpace(out) != "job.batch/quick condition met" {
		t.Errorf("wait for complete printed %q", out)
	}
	quickPod := strings.TrimPrefix(strings.TrimSpace(k.must("get", "pods", "-l", "job-name=quick", "-o", "name")), "pod/")
	if out := k.must("delete", "pod", quickPod); strings.TrimSpace(out) != fmt.Sprintf("pod %q deleted", quickPod) {
		t.Errorf("delete pod printed %q", out)
	}
	if out, err := k.run("get", "pod", quickPod); err == nil || !strings.Contains(out, fmt.Sprintf(`pods %q not found`, quickPod)) {
		t.Errorf("get the deleted pod: err %v, output %q", err, out)
	}
	// -v=6 logs each request: the delete comes once the wait watches.
	waiting := k.start(t, "wait", "--for=delete", "job/quick", "--timeout=60s", "-v=6")
	waiting.watching(t)
	if out := k.must("delete", "job", "quick"); strings.TrimSpace(out) != `job.batch "quick" deleted` {
		t.Errorf("delete job printed %q", out)
	}
	wait.For(t, "kubectl wait --for=delete ends", func() (bool, string) {
		return waiting.ended(), waiting.stderr()
	})
	if out := waiting.output(); waiting.cmd.ProcessState.ExitCode() != 0 || strings.TrimSpace(out) != "job.batch/quick condition met" {
		t.Errorf("wait --for=delete: exit %d, output %q", waiting.cmd.ProcessState.ExitCode(), out)
	}

	out, err = k.run("delete", "job", "batch-job", "--cascade=orphan")
	if err == nil || !strings.Contains(out, `Unsupported value: "Orphan"`) {
		t.Errorf("delete --cascade=orphan: err %v, output %q; want it refused", err, out)
	}
	if out := k.must("delete", "job", "batch-job", "-n", "default", "--cascade=foreground"); strings.TrimSpace(out) != `job.batch "batch-job" deleted` {
		t.Errorf("delete --cascade=foreground printed %q", out)
	}
	wait.For(t, "the deleted Job's pod is gone", func() (bool, string) {
		out, err := k.run("get", "pod", pod)
		return err != nil && strings.Contains(out, fmt.Sprintf(`pods %q not found`, pod)), out
	})
	out, err = k.run("delete", "job", "batch-job")
	if err == nil || strings.TrimSpace(out) != `Error from server (NotFound): jobs.batch "batch-job" not found` {
		t.Errorf("deleting it again: err %v, output %q", err, out)
	}

	k.must("create", "-f", quick)
	if out := k.must("delete", "-f", quick, "--cascade=background"); strings.TrimSpace(out) != `job.batch "quick" deleted` {
		t.Errorf("delete -f printed %q", out)
	}
	nightly := writeManifest(t, "nightly.yaml", nightlyCronJob)
	k.must("create", "-f", nightly)
	if out := k.must("delete", "cj", "nightly"); strings.TrimSpace(out) != `cronjob.batch "nightly" deleted` {
		t.Errorf("delete cronjob printed %q", out)
	}
}

// TestKubectlWatch follows `kubectl get jobs -w` and `kubectl get pods -w`
// while a Job is created and deleted, then kills them.
func TestKubectlWatch(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1, HTTP: true})
	k := newKubectl(t, c.Servers[1].HTTPAddr)
	// -v=6 logs each request, so the test sees when the watches are open.
	jobs := k.start(t, "get", "jobs", "-w", "--output-watch-events", "-v=6")
	pods := k.start(t, "get", "pods", "-w", "--output-watch-events", "-v=6")
	jobs.watching(t)
	pods.watching(t)

	quick := writeManifest(t, "quick.yaml", fmt.Sprintf(quickJob, "watched"))
	k.must("create", "-f", quick)
	wait.For(t, "get jobs -w shows the Job added", func() (bool, string) {
		out := jobs.output()
		return hasRow(out, "EVENT NAME STATUS COMPLETIONS DURATION AGE") && hasRowPrefix(out, "ADDED watched"), out
	})
	wait.For(t, "get pods -w shows its pod added and completing", func() (bool, string) {
		out := pods.output()
		return hasRowPrefix(out, "ADDED watched-") && strings.Contains(out, "Completed"), out
	})
	k.must("delete", "-f", quick)
	wait.For(t, "get jobs -w shows the Job deleted", func() (bool, string) {
		out := jobs.output()
		return hasRowPrefix(out, "DELETED watched"), out
	})
	wait.For(t, "get pods -w shows its pod deleted", func() (bool, string) {
		out := pods.output()
		return hasRowPrefix(out, "DELETED watched-"), out
	})
	jobs.stop(t)
	pods.stop(t)
}

// process is a kubectl left running, its output collected.
type process struct {
	cmd    *exec.Cmd
	stdout buffer
	errOut buffer
	done   chan struct{}
}

// buffer is a strings.Builder safe for a writing process and a reading
// test.
type buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start starts kubectl with args; the test's cleanup kills it if the test
// did not stop it.
func (k *kubectl) start(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{done: make(chan struct{})}
	p.cmd = exec.Command(k.path, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.errOut
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *process) output() string { return p.stdout.String() }

func (p *process) stderr() string { return p.errOut.String() }

func (p *process) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// watching waits until kubectl, run with -v=6, has its watch request
// answered.
func (p *process) watching(t *testing.T) {
	t.Helper()
	wait.For(t, "kubectl's watch is open", func() (bool, string) {
		for _, line := range strings.Split(p.stderr(), "\n") {
			if strings.Contains(line, "watch=true") && strings.Contains(line, "200 OK") {
				return true, ""
			}
		}
		return false, p.stderr()
	})
}

// stop interrupts a watching kubectl, as a user's Ctrl-C ends it, after
// checking it was still running: its stream had not failed.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if p.ended() {
		t.Fatalf("kubectl %v ended before it was stopped:\n%s%s", p.cmd.Args, p.output(), p.stderr())
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "kubectl ends", func() (bool, string) { return p.ended(), "still running" })
}

// hasLine says whether out has a line whose fields start with these.
func hasLine(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		label := strings.Fields(strings.Join(fields, " "))
		if len(f) >= len(label) && strings.Join(f[:len(label)], " ") == strings.Join(label, " ") {
			return true
		}
	}
	return false
}

// hasRow says whether out has a line whose fields are exactly these.
func hasRow(out, fields string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(line), " ") == fields {
			return true
		}
	}
	return false
}

// hasRowPrefix says whether out has a line whose fields begin with prefix.
func hasRowPrefix(out, prefix string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.Join(strings.Fields(line), " "), prefix) {
			return true
		}
	}
	return false
}
