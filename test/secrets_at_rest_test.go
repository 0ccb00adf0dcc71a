package test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// With --encryption-key-file, no Secret's value reaches any server's
// disk, in the Raft log or in a snapshot, while pods read it as before
// and a restarted server reads it back.
func TestSecretsAreEncryptedAtRest(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "secrets.key")
	key, err := exec.Command(testcluster.Binary(t), "keygen").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1, ServerArgs: []string{"--encryption-key-file", keyFile}})
	value := fmt.Sprintf("s3cret-%d-value", os.Getpid())
	marker := fmt.Sprintf("plain-%d-marker", os.Getpid())
	c.MustCLI("create", "secret", "generic", "db", "--from-literal=password="+value)
	c.MustCLI("create", "configmap", "app", "--from-literal=mode="+marker)
	c.Submit(`apiVersion: batch/v1
kind: Job
metadata:
  name: reader
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [sh, -c, 'printf %s "$PASSWORD" | sha256sum']
        env:
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
`)
	c.WaitJob("reader", 30*time.Second)
	// The pod prints a digest: its output is kept by the servers, and what
	// a pod prints is not a Secret.
	if out, want := c.MustCLI("logs", "job/reader"), fmt.Sprintf("%x  -\n", sha256.Sum256([]byte(value))); out != want {
		t.Errorf("the pod read a password whose digest is %q, want %q", out, want)
	}

	// Enough log for every server to take a snapshot (16 MiB applied).
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", 900<<10)), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 21 {
		c.MustCLI("create", "configmap", fmt.Sprintf("filler-%d", i), "--from-file=data="+big)
	}
	for _, s := range c.Servers {
		wait.Within(t, 60*time.Second, s.Name+" to take a snapshot", func() (bool, string) {
			found := false
			_ = filepath.WalkDir(s.DataDir, func(p string, d fs.DirEntry, err error) error {
				found = found || (err == nil && d.Name() == "state.bin")
				return nil
			})
			return found, "no snapshot under " + s.DataDir
		})
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(value))
	for _, s := range c.Servers {
		// The ConfigMap's value, stored in the clear, is found in the log
		// and in the snapshot: the scan would find the Secret's too.
		markedIn := map[string]bool{}
		err := filepath.WalkDir(s.DataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.Contains(string(b), value) || strings.Contains(string(b), encoded) {
				t.Errorf("%s holds the secret's value", p)
			}
			if strings.Contains(string(b), marker) {
				markedIn[d.Name()] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !markedIn["raft.db"] || !markedIn["state.bin"] {
			t.Errorf("the ConfigMap's value is in %v of %s's files, want raft.db and state.bin: the scan proves nothing", markedIn, s.Name)
		}
	}

	// A restarted server reads the Secret back from its sealed snapshot
	// and log.
	s := c.Servers[1]
	c.Restart(s)
	wait.Within(t, 30*time.Second, s.Name+" to serve the secret", func() (bool, string) {
		r := c.CLIAt(s.RPCAddr, "", "get", "secret", "db", "-o", "jsonpath={.data.password}", "--timeout", "3s")
		return r.Stdout == encoded, r.Stdout + r.Stderr
	})
}
