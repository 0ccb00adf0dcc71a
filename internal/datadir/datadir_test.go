package datadir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAcquireRefusesADirectoryInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v (%v), want 0700", info.Mode().Perm(), err)
	}
	// flock locks belong to open files, so a second open in this process
	// conflicts as another process's would.
	_, err = Acquire(dir)
	if err == nil || !strings.Contains(err.Error(), "is in use by process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Acquire = %v, want a refusal naming this process", err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	again.Release()
}

func TestAcquireNamesTheOtherProcess(t *testing.T) {
	// A shell holding the lock with flock(1) semantics is not available
	// everywhere; a child test process holding it is. The child exits
	// without running cleanups, so it makes no temporary directory.
	if os.Getenv("DATADIR_HOLD") != "" {
		if _, err := Acquire(os.Getenv("DATADIR_HOLD")); err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("held\n")
		buf := make([]byte, 1)
		os.Stdin.Read(buf) // hold until the parent closes stdin
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestAcquireNamesTheOtherProcess$")
	cmd.Env = append(os.Environ(), "DATADIR_HOLD="+dir)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("child did not take the lock: %q %v", buf, err)
	}
	_, err := Acquire(dir)
	if err == nil || !strings.Contains(err.Error(), "process "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("Acquire = %v, want a refusal naming pid %d", err, cmd.Process.Pid)
	}
}
