package testcluster

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

var nextCgroup atomic.Uint32

// newCgroupParent names the cgroup, relative to each hierarchy's root,
// under which a cluster's agents make their nodes' (--cgroup-parent
// PARENT/NODE). It is the cluster's own and at the top, so removing it
// when the cluster ends races no other test's.
func newCgroupParent() string {
	return fmt.Sprintf("jobcluster-test-%d-%d", os.Getpid(), nextCgroup.Add(1))
}

// cgroupRoots are the mount points of the machine's cgroup hierarchies,
// every v1 controller's and the v2 one.
func cgroupRoots() []string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	var roots []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && (fields[2] == "cgroup" || fields[2] == "cgroup2") {
			roots = append(roots, fields[1])
		}
	}
	return roots
}

// removeCgroups removes the cluster's cgroup parent, with every node's
// cgroup and run cgroup under it, from every hierarchy, once its agents
// are killed. A killed agent's guard kills its runs and removes their
// cgroups; a process still in one after that is killed here, so that
// nothing a test started outlives it. It reports what is left after
// timeout.
func removeCgroups(parent string, timeout time.Duration) error {
	var tops []string
	for _, root := range cgroupRoots() {
		if top := filepath.Join(root, parent); fileExists(top) {
			tops = append(tops, top)
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		var left []string
		for _, top := range tops {
			left = append(left, removeCgroupTree(top)...)
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups left after %v: %s", timeout, strings.Join(left, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeCgroupTree removes top and every cgroup under it, deepest first,
// killing the processes of any that is still busy; it returns those it
// could not remove yet.
func removeCgroupTree(top string) []string {
	var dirs []string
	_ = filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	slices.Reverse(dirs)
	var left []string
	for _, dir := range dirs {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			continue
		}
		left = append(left, dir)
		if errors.Is(err, syscall.EBUSY) {
			killCgroupProcs(dir)
		}
	}
	return left
}

// killCgroupProcs sends SIGKILL to every process in the cgroup at dir,
// thawing it first if it is frozen (a frozen process never dies).
func killCgroupProcs(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if state, err := os.ReadFile(filepath.Join(dir, "freezer.state")); err == nil && strings.TrimSpace(string(state)) != "THAWED" {
		_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.freeze")); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
