package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/test/testcluster"
)

const applyCronJob = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  labels: {team: ml}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            command: ["sh", "-c", "echo nightly"]
            env:
            - {name: A, value: "1"}
            - {name: B, value: "2"}
`

const applyJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: applied
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        command: ["sh", "-c", "echo applied"]
`

// TestKubectlApplyReplaceAndEdit runs kubectl's declarative commands
// against a follower: client-side apply (created, unchanged, configured,
// with lists merged by key and removed entries removed), server-side
// apply, replace and edit, and the refusals Kubernetes gives.
func TestKubectlApplyReplaceAndEdit(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1, HTTP: true})
	k := newKubectl(t, c.Servers[1].HTTPAddr)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	expect := func(want string, args ...string) {
		t.Helper()
		if out := k.must(args...); strings.TrimSpace(out) != want {
			t.Errorf("kubectl %s printed %q, want %q", strings.Join(args, " "), out, want)
		}
	}
	get := func(jsonpath string, args ...string) string {
		t.Helper()
		return k.must(append(append([]string{"get"}, args...), "-o", "jsonpath="+jsonpath)...)
	}

	v1 := write("cron-v1.yaml", applyCronJob)
	expect("cronjob.batch/nightly created", "apply", "-f", v1)
	expect("cronjob.batch/nightly unchanged", "apply", "-f", v1)
	if got := get(`{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}`, "cj", "nightly"); !strings.Contains(got, `"schedule":"0 3 * * *"`) {
		t.Errorf("last-applied-configuration = %q; want the applied manifest", got)
	}

	// A label replaced, one env value changed, the schedule moved: kubectl
	// sends a strategic merge patch with $setElementOrder directives.
	v2Text := strings.NewReplacer(`{team: ml}`, `{owner: ana}`, `value: "2"`, `value: "3"`, `0 3 * * *`, `0 4 * * *`).Replace(applyCronJob)
	v2 := write("cron-v2.yaml", v2Text)
	expect("cronjob.batch/nightly configured", "apply", "-f", v2)
	if got, want := get(`{.metadata.labels} {.spec.schedule} {.spec.jobTemplate.spec.template.spec.containers[0].env}`, "cj", "nightly"),
		`{"owner":"ana"} 0 4 * * * [{"name":"A","value":"1"},{"name":"B","value":"3"}]`; got != want {
		t.Errorf("after apply: %s, want %s", got, want)
	}
	// An entry removed from the manifest is removed from the object.
	v3 := write("cron-v3.yaml", strings.Replace(v2Text, `            - {name: A, value: "1"}`+"\n", "", 1))
	expect("cronjob.batch/nightly configured", "apply", "-f", v3)
	if got, want := get(`{.spec.jobTemplate.spec.template.spec.containers[0].env}`, "cj", "nightly"), `[{"name":"B","value":"3"}]`; got != want {
		t.Errorf("after removing A: env %s, want %s", got, want)
	}

	// kubectl create job sends Kubernetes' protobuf.
	expect("job.batch/by-hand created", "create", "job", "by-hand", "--from=cronjob/nightly")
	expect("job.batch/by-flags created", "create", "job", "by-flags", "--image=busybox", "--", "sh", "-c", "echo by-flags")
	expect("job.batch/by-hand condition met", "wait", "--for=condition=complete", "job/by-hand", "--timeout=60s")
	if got := get(`{.metadata.ownerReferences[0].name} {.metadata.annotations.cronjob\.kubernetes\.io/instantiate}`, "job", "by-hand"); got != "nightly manual" {
		t.Errorf("job by-hand: owner and annotation %q, want \"nightly manual\"", got)
	}
	expect("job.batch/by-flags condition met", "wait", "--for=condition=complete", "job/by-flags", "--timeout=60s")

	// ConfigMaps and Secrets, as kubectl creates them, read by a Job.
	expect("configmap/settings created", "create", "configmap", "settings", "--from-literal=mode=fast")
	expect("secret/creds created", "create", "secret", "generic", "creds", "--from-literal=password=s3cret")
	expect("job.batch/reads-config created", "create", "-f", write("reads-config.yaml", `apiVersion: batch/v1
kind: Job
metadata:
  name: reads-config
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        command: ["sh", "-c", "echo $MODE $PASSWORD"]
        env:
        - name: MODE
          valueFrom: {configMapKeyRef: {name: settings, key: mode}}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: creds, key: password}}
`))
	expect("job.batch/reads-config condition met", "wait", "--for=condition=complete", "job/reads-config", "--timeout=60s")
	expect("fast s3cret", "logs", "job/reads-config")
	if out := k.must("get", "configmaps"); !hasRowPrefix(out, "settings") {
		t.Errorf("kubectl get configmaps:\n%s", out)
	}
	expect(`secret "creds" deleted`, "delete", "secret", "creds")

	// A Job: suspend is mutable, the pod template is not, as in Kubernetes.
	job := write("job.yaml", applyJob)
	expect("job.batch/applied created", "apply", "-f", job)
	expect("job.batch/applied configured", "apply", "-f", write("job-run.yaml", strings.Replace(applyJob, "suspend: true", "suspend: false", 1)))
	expect("job.batch/applied condition met", "wait", "--for=condition=complete", "job/applied", "--timeout=60s")
	out, err := k.run("apply", "-f", write("job-new-command.yaml", strings.NewReplacer("suspend: true", "suspend: false", "echo applied", "echo changed").Replace(applyJob)))
	if err == nil || !strings.Contains(out, `The Job "applied" is invalid`) || !strings.Contains(out, "field is immutable") {
		t.Errorf("apply of a new pod template: %v\n%s\nwant the immutable-field refusal", err, out)
	}

	// replace: PUT of the whole object read back and changed.
	cur := k.must("get", "cj", "nightly", "-o", "yaml")
	if !strings.Contains(cur, "\n  schedule: 0 4 * * *\n") {
		t.Fatalf("kubectl get -o yaml printed no schedule line:\n%s", cur)
	}
	expect("cronjob.batch/nightly replaced", "replace", "-f", write("cron-replace.yaml", strings.Replace(cur, "\n  schedule: 0 4", "\n  schedule: 0 5", 1)))
	if got := get(`{.spec.schedule}`, "cj", "nightly"); got != "0 5 * * *" {
		t.Errorf("after replace: schedule %q, want 0 5 * * *", got)
	}
	// A stale resourceVersion is a conflict, not a lost write.
	out, err = k.run("replace", "-f", write("cron-stale.yaml", strings.Replace(cur, "\n  schedule: 0 4", "\n  schedule: 0 9", 1)))
	if err == nil || !strings.Contains(out, "Operation cannot be fulfilled") && !strings.Contains(out, "modified") {
		t.Errorf("replace with a stale resourceVersion: %v\n%s\nwant a conflict", err, out)
	}

	// edit: kubectl opens $KUBE_EDITOR on the object and patches the change.
	editor := write("editor.sh", "#!/bin/sh\nsed -i 's/^  schedule: 0 5/  schedule: 0 6/' \"$1\"\n")
	if err := os.Chmod(editor, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(k.path, "--kubeconfig", k.kubeconfig, "--request-timeout", "10s", "edit", "cronjob", "nightly")
	cmd.Env = append(os.Environ(), "KUBE_EDITOR="+editor)
	if b, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "cronjob.batch/nightly edited" {
		t.Errorf("kubectl edit: %v\n%s", err, b)
	}
	if got := get(`{.spec.schedule}`, "cj", "nightly"); got != "0 6 * * *" {
		t.Errorf("after edit: schedule %q, want 0 6 * * *", got)
	}

	// Server-side apply creates, then merges into the stored object.
	ssa := strings.Replace(applyCronJob, "name: nightly", "name: hourly", 1)
	expect("cronjob.batch/hourly serverside-applied", "apply", "--server-side", "-f", write("hourly.yaml", ssa))
	expect("cronjob.batch/hourly serverside-applied", "apply", "--server-side", "-f", write("hourly-2.yaml", strings.Replace(ssa, `value: "2"`, `value: "7"`, 1)))
	if got, want := get(`{.spec.jobTemplate.spec.template.spec.containers[0].env}`, "cj", "hourly"), `[{"name":"A","value":"1"},{"name":"B","value":"7"}]`; got != want {
		t.Errorf("after server-side apply: env %s, want %s", got, want)
	}

	// A server-side dry run is refused rather than written.
	out, err = k.run("apply", "--dry-run=server", "-f", write("hourly-dry.yaml", strings.Replace(ssa, "0 3 * * *", "0 8 * * *", 1)))
	if err == nil || !strings.Contains(out, "dry-run=client") {
		t.Errorf("apply --dry-run=server: %v\n%s\nwant a refusal", err, out)
	}
	if got := get(`{.spec.schedule}`, "cj", "hourly"); got != "0 3 * * *" {
		t.Errorf("a dry run changed the schedule to %q", got)
	}
}
