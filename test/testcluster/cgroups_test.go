package testcluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestRemoveCgroupsKillsWhatIsLeft: a cluster's cgroups are removed at its
// end from every hierarchy, node and run cgroups included, and a process
// a guard did not kill is killed first.
func TestRemoveCgroupsKillsWhatIsLeft(t *testing.T) {
	RequireRoot(t, "cgroups need root")
	roots := cgroupRoots()
	if len(roots) == 0 {
		t.Fatal("no cgroup hierarchy is mounted")
	}
	parent := newCgroupParent()
	run := filepath.Join(parent, "a1", "run-1")
	var made []string
	for _, root := range roots {
		if err := os.MkdirAll(filepath.Join(root, run), 0o755); err == nil {
			made = append(made, root)
		}
	}
	if len(made) == 0 {
		t.Fatalf("no hierarchy of %v is writable", roots)
	}
	t.Cleanup(func() { _ = removeCgroups(parent, 5*time.Second) })

	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sleep.Wait() }()
	t.Cleanup(func() { _ = sleep.Process.Kill() })
	procs := filepath.Join(made[0], run, "cgroup.procs")
	if err := os.WriteFile(procs, []byte(strconv.Itoa(sleep.Process.Pid)), 0); err != nil {
		t.Fatalf("move sleep into %s: %v", procs, err)
	}

	if err := removeCgroups(parent, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, root := range made {
		if _, err := os.Stat(filepath.Join(root, parent)); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", filepath.Join(root, parent), err)
		}
	}
	select {
	case err := <-exited:
		if err == nil {
			t.Error("sleep exited 0; want it killed")
		}
	case <-time.After(10 * time.Second):
		t.Error("the process in the cluster's cgroup still runs")
	}
	if err := removeCgroups(parent, time.Second); err != nil {
		t.Errorf("removing what is gone: %v", err)
	}
}
