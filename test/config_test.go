package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

const configJob = `apiVersion: batch/v1
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
        image: busybox
        command: ["sh", "-c", "echo mode=$MODE password=$DB_password pod=$POD node=$NODE ns=$NS"]
        envFrom:
        - secretRef: {name: db}
          prefix: DB_
        env:
        - name: MODE
          valueFrom: {configMapKeyRef: {name: app, key: mode}}
        - name: POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: NODE
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        - name: NS
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
`

// A Job reads a ConfigMap key, a Secret through envFrom and its own name,
// node and namespace through the downward API. Its pod waits, Pending with
// kubelet's CreateContainerConfigError, until the ConfigMap exists; the
// Secret's value never shows in describe, events or the servers' logs.
func TestJobReadsConfigMapsSecretsAndTheDownwardAPI(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1})
	secretFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(secretFile, []byte("hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := c.MustCLI("create", "secret", "generic", "db", "-n", "apps", "--from-file=password="+secretFile); out != "secret/db created\n" {
		t.Errorf("create secret: %q", out)
	}
	if r := c.CLIAt(c.Addrs(), configJob, "submit", "-n", "apps", "-"); r.Err != nil {
		t.Fatalf("submit: %s", r.Stderr)
	}
	wait.For(t, "the pod to wait for its ConfigMap", func() (bool, string) {
		r := c.CLI("get", "pods", "-n", "apps", "-l", "job-name=reader", "-o", "jsonpath={.items[0].status.phase} {.items[0].status.containerStatuses[0].state.waiting.reason}: {.items[0].status.containerStatuses[0].state.waiting.message}")
		return r.Stdout == `Pending CreateContainerConfigError: configmap "app" not found`, r.Stdout + r.Stderr
	})
	if out := c.MustCLI("create", "configmap", "app", "-n", "apps", "--from-literal=mode=fast"); out != "configmap/app created\n" {
		t.Errorf("create configmap: %q", out)
	}
	wait.Within(t, 30*time.Second, "the Job to complete once its ConfigMap exists", func() (bool, string) {
		r := c.CLI("get", "job", "reader", "-n", "apps", "-o", "jsonpath={.status.succeeded}")
		return r.Stdout == "1", r.Stdout + r.Stderr
	})
	out := c.MustCLI("logs", "-n", "apps", "job/reader")
	if !strings.HasPrefix(out, "mode=fast password=hunter2 pod=reader-") || !strings.HasSuffix(out, " node=a1 ns=apps\n") {
		t.Errorf("the pod printed %q", out)
	}

	if out := c.MustCLI("get", "configmaps", "-n", "apps"); !strings.Contains(out, "NAME   DATA   AGE") || !strings.Contains(out, "app    1") {
		t.Errorf("get configmaps:\n%s", out)
	}
	desc := c.MustCLI("describe", "secret", "db", "-n", "apps")
	if !strings.Contains(desc, "password:  7 bytes") || strings.Contains(desc, "hunter2") {
		t.Errorf("describe secret shows its value or not its size:\n%s", desc)
	}
	// The pod printed the value itself, so its log (and describe pod's
	// last lines) shows it; nothing else may.
	for _, args := range [][]string{{"describe", "job", "reader", "-n", "apps"}, {"get", "events", "-A"}, {"get", "pods", "-n", "apps", "-o", "yaml"}} {
		if out := c.MustCLI(args...); strings.Contains(out, "hunter2") {
			t.Errorf("%v shows the secret's value:\n%s", args, out)
		}
	}
	for _, s := range c.Servers {
		if log, _ := s.Log(); strings.Contains(log, "hunter2") {
			t.Errorf("server %s logged the secret's value", s.Name)
		}
	}
	if out := c.MustCLI("delete", "secret", "db", "-n", "apps"); out != "secret \"db\" deleted\n" {
		t.Errorf("delete secret: %q", out)
	}
}
