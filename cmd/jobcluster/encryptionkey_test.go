package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/seal"
)

// What keygen prints is a key --encryption-key-file takes.
func TestKeygenMakesAnEncryptionKey(t *testing.T) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"keygen"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Parse("keygen", out.Bytes()); err != nil {
		t.Errorf("keygen printed %q: %v", out.String(), err)
	}
}

// A server or dev given a key file it cannot use stops before it starts,
// naming the flag, the file and the fix.
func TestBadEncryptionKeyFileStopsTheServer(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("# secrets\nnot-a-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.key")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"server, missing file", []string{"server", "--name", "s1", "--data-dir", filepath.Join(dir, "s1"), "--encryption-key-file", missing},
			"--encryption-key-file: read key file: open " + missing},
		{"server, bad line", []string{"server", "--name", "s1", "--data-dir", filepath.Join(dir, "s1"), "--encryption-key-file", bad},
			"--encryption-key-file: " + bad + ": line 2: not the base64 of 32 bytes: make a key with `jobcluster keygen`"},
		{"dev, bad line", []string{"dev", "--data-dir", filepath.Join(dir, "dev"), "--encryption-key-file", bad},
			"--encryption-key-file: " + bad + ": line 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newRootCmd()
			cmd.SetArgs(tt.args)
			if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
			}
		})
	}
}
