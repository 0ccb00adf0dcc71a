package test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// A process pod mounts a ConfigMap (whole, and one key by subPath) and a
// Secret item at paths the node does not have, reads them and its own
// name from the downward API, finds them read-only, and leaves the node
// as it was: the mounts lived in the pod's own mount namespace and the
// mount points made for them are gone.
func TestProcessPodsMountConfigMapsAndSecrets(t *testing.T) {
	testcluster.RequireRoot(t, "process pods mount volumes only under an agent running as root")
	base := filepath.Join(os.TempDir(), fmt.Sprintf("jobcluster-mounts-%d", os.Getpid()))
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1})
	// The pod's user passes through the test's directories (0700) to its
	// working directory and volumes.
	for d := c.Agents[0].DataDir; strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	c.MustCLI("create", "configmap", "app", "--from-literal=app.yaml=level: 3", "--from-literal=mode=fast")
	c.MustCLI("create", "secret", "generic", "db", "--from-literal=password=s3cret")
	c.Submit(fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: reader
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      securityContext: {runAsUser: 65534, runAsGroup: 65534}
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "cat %[1]s/app/app.yaml; echo; cat %[1]s/app/mode; echo; cat %[1]s/creds/pw; echo; stat -c '%%a' %[1]s/creds/pw; cat %[1]s/only-mode; echo; echo pod=$POD uid=$(id -u); touch %[1]s/app/x 2>/dev/null && echo writable || echo read-only; sleep 30"]
        env:
        - name: POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        volumeMounts:
        - {name: config, mountPath: %[1]s/app}
        - {name: creds, mountPath: %[1]s/creds}
        - {name: config, mountPath: %[1]s/only-mode, subPath: mode}
      volumes:
      - name: config
        configMap: {name: app}
      - name: creds
        secret:
          secretName: db
          items: [{key: password, path: pw, mode: 0444}]
`, base))
	var got string
	wait.Within(t, 60*time.Second, "the pod to have read its volumes", func() (bool, string) {
		got = c.CLI("logs", "job/reader").Stdout
		return strings.HasSuffix(got, "read-only\n"), got
	})
	// Meanwhile the node sees empty mount points: the mounts are the pod's.
	for _, p := range []string{filepath.Join(base, "app"), filepath.Join(base, "creds")} {
		if entries, err := os.ReadDir(p); err != nil || len(entries) != 0 {
			t.Errorf("the node sees %s as %v (%v), want an empty directory", p, entries, err)
		}
	}
	c.MustCLI("delete", "job", "reader")
	if !strings.HasPrefix(got, "level: 3\nfast\ns3cret\n444\nfast\npod=reader-") || !strings.HasSuffix(got, " uid=65534\nread-only\n") {
		t.Errorf("the pod read %q", got)
	}
	wait.Within(t, 30*time.Second, "the mount points made for the pod to be gone", func() (bool, string) {
		_, err := os.Lstat(base)
		return errors.Is(err, os.ErrNotExist), fmt.Sprintf("%s: %v", base, err)
	})
}
