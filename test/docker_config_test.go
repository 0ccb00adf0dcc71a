package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// buildShellImage builds, with no registry, an image FROM scratch holding
// the static shell of Debian's busybox-static, removed when the test ends.
func buildShellImage(t *testing.T, name string) {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/bin/busybox (Debian's busybox-static) is required under CI=true: %v", err)
		}
		t.Skipf("no /bin/busybox: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	docker(t, "build", "-q", "-t", name, dir)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", name).Run() })
}

// TestDockerMountsConfigMapsAndSecrets runs a container that reads a
// ConfigMap and a Secret mounted as files, through the CLI's own
// `create configmap` and `create secret`: every key as a file, listed
// items at their paths and modes, a single file by subPath, all
// read-only, beside a ConfigMap key and its own name and node in env; and
// a pod whose ConfigMap does not exist yet waits, in
// kubelet's words, until it is created.
func TestDockerMountsConfigMapsAndSecrets(t *testing.T) {
	requireDocker(t)
	suffix := fmt.Sprint(os.Getpid())
	node := "docker-cfg-" + suffix
	t.Cleanup(func() { removeNodeContainers(t, node) })
	image := "jobcluster-test-shell-" + suffix + ":1"
	buildShellImage(t, image)

	c := testcluster.New(t, testcluster.Options{Servers: 1})
	c.AddAgent(node, "--runtime", "docker")
	c.WaitNodeReady(node)
	c.MustCLI("create", "configmap", "app", "--from-literal=app.yaml=level: 3", "--from-literal=mode=fast")
	c.MustCLI("create", "secret", "generic", "db", "--from-literal=password=s3cret")
	job := fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: reader
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: %s
        imagePullPolicy: Never
        command: ["sh", "-c", "cat /etc/app/app.yaml; echo; cat /etc/app/mode; echo; cat /etc/creds/pw; echo; stat -c '%%a' /etc/creds/pw; cat /etc/only-mode; echo; touch /etc/app/x 2>/dev/null && echo writable || echo read-only; echo mode=$MODE pod=$POD node=$NODE"]
        env:
        - name: MODE
          valueFrom: {configMapKeyRef: {name: app, key: mode}}
        - name: POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: NODE
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        volumeMounts:
        - {name: config, mountPath: /etc/app}
        - {name: creds, mountPath: /etc/creds}
        - {name: config, mountPath: /etc/only-mode, subPath: mode}
      volumes:
      - name: config
        configMap: {name: app}
      - name: creds
        secret:
          secretName: db
          items: [{key: password, path: pw, mode: 0400}]
`, image)
	c.Submit(job)
	if j := c.WaitJob("reader", 90*time.Second); !jobComplete(j) {
		t.Fatalf("job reader ended %+v\n%s", j.Status, c.MustCLI("describe", "job", "reader"))
	}
	want := "level: 3\nfast\ns3cret\n400\nfast\nread-only\nmode=fast pod=reader-"
	if got := c.MustCLI("logs", "job/reader"); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, " node="+node+"\n") {
		t.Errorf("the container read %q, want %q...node=%s", got, want, node)
	}

	// A ConfigMap that does not exist yet: the pod waits, then runs.
	c.Submit(strings.NewReplacer("name: reader", "name: later", "configMap: {name: app}", "configMap: {name: later}").Replace(job))
	wait.Within(t, 60*time.Second, "the pod to wait for its ConfigMap", func() (bool, string) {
		out := c.MustCLI("get", "pods", "-l", "job-name=later")
		return strings.Contains(out, "CreateContainerConfigError"), out
	})
	c.MustCLI("create", "configmap", "later", "--from-literal=app.yaml=later", "--from-literal=mode=slow")
	if j := c.WaitJob("later", 90*time.Second); !jobComplete(j) {
		t.Fatalf("job later ended %+v\n%s", j.Status, c.MustCLI("describe", "job", "later"))
	}
	if got := c.MustCLI("logs", "job/later"); !strings.HasPrefix(got, "later\nslow\n") {
		t.Errorf("the second container read %q", got)
	}
}

func jobComplete(j *testcluster.Job) bool {
	s, _ := j.Condition("Complete")
	return s == "True"
}
