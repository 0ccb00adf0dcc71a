package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
	"golang.org/x/sys/unix"
)

// testCgroupRoots are the hierarchies the cgroup tests run on: this
// machine's default, and its v2 hierarchy when cgroup v1 is the default
// (a hybrid mount).
var testCgroupRoots = []struct {
	name string
	root string
}{
	{name: "default hierarchy", root: defaultCgroupRoot},
	{name: "hybrid v2 hierarchy", root: filepath.Join(defaultCgroupRoot, "unified")},
}

// cgroupRuntime returns a process runtime that puts runs under a cgroup
// parent of its own at root, or skips the test where that cannot work. It
// checks at the end that every run's cgroup is gone and removes the parent.
func cgroupRuntime(t *testing.T, root string) *ProcessRuntime {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cgroups need root")
	}
	if _, err := detectCgroups(root); err != nil {
		t.Skipf("no cgroups at %s: %v", root, err)
	}
	parent := filepath.Join("jobcluster-test", newCgroupName())
	r, warnings, err := NewProcessRuntimeWith(ProcessOptions{Cgroups: true, CgroupParent: parent, CgroupRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("warnings: %q", warnings)
	if r.cgroups == nil {
		t.Skipf("cgroups at %s are not writable: %q", root, warnings)
	}
	t.Cleanup(func() {
		for _, dir := range r.cgroups.paths(parent) {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.IsDir() {
					t.Errorf("cgroup %s left behind", filepath.Join(dir, e.Name()))
					_ = (&cgroup{paths: []string{filepath.Join(dir, e.Name())}}).remove()
				}
			}
			for _, d := range []string{dir, filepath.Dir(dir)} {
				if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EBUSY) {
					t.Errorf("remove test cgroup parent: %v", err)
				}
			}
		}
	})
	return r
}

// startIn starts argv with the runtime in a working directory of its own.
func startIn(t *testing.T, r *ProcessRuntime, dir string, c *api.Container, argv ...string) *process {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "out.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	p, err := r.Start(context.Background(), ProcessSpec{Command: argv, Env: pathEnv(), Dir: dir, Stdout: out, Container: c})
	if err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	t.Cleanup(func() {
		_ = p.Signal(syscall.SIGKILL)
		_, _ = p.Wait()
	})
	return p.(*process)
}

// escapee starts a pod whose shell runs a sleep in a session of its own,
// then runs script; it returns the pod and the sleep's PID once the sleep
// has left the pod's process group.
func escapee(t *testing.T, r *ProcessRuntime, script string) (*process, int) {
	t.Helper()
	dir := t.TempDir()
	p := startIn(t, r, dir, nil, "sh", "-c", "setsid sleep 300 & echo $! > pidfile; "+script)
	var pid int
	wait.For(t, "the setsid child to start", func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(dir, "pidfile"))
		if err != nil {
			return false, err.Error()
		}
		if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return false, err.Error()
		}
		pgrp, _, err := procStat(pid)
		if err != nil {
			return false, err.Error()
		}
		return pgrp == pid, fmt.Sprintf("process %d is in group %d", pid, pgrp)
	})
	t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
	return p, pid
}

// processGone reports whether pid has ended (a zombie counts as ended).
func processGone(pid int) (bool, string) {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	return !alive(string(status)), fmt.Sprintf("process %d still runs", pid)
}

func TestCgroupEndsEveryProcessOfARun(t *testing.T) {
	for _, h := range testCgroupRoots {
		t.Run(h.name, func(t *testing.T) {
			tests := []struct {
				name   string
				script string
				end    func(t *testing.T, dir string, p *process)
			}{
				{
					name:   "killed with SIGKILL",
					script: "sleep 300",
					end: func(t *testing.T, _ string, p *process) {
						if err := p.Signal(syscall.SIGKILL); err != nil {
							t.Fatal(err)
						}
					},
				},
				{
					name:   "main process exits by itself",
					script: "while [ ! -e stop ]; do sleep 0.05; done",
					end: func(t *testing.T, dir string, _ *process) {
						if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
							t.Fatal(err)
						}
					},
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := cgroupRuntime(t, h.root)
					p, child := escapee(t, r, tt.script)
					tt.end(t, p.cmd.Dir, p)
					code, err := p.Wait()
					if err != nil {
						t.Fatalf("Wait() = %d, %v", code, err)
					}
					if gone, why := processGone(child); !gone {
						t.Errorf("after Wait: %s, though it is in the run's cgroup", why)
					}
					for _, dir := range p.cg.paths {
						if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
							t.Errorf("cgroup %s still there after Wait: %v", dir, err)
						}
					}
					if p.OOMKilled() {
						t.Error("OOMKilled() = true for a run without a memory limit")
					}
				})
			}
		})
	}
}

func TestCgroupMemoryLimitEndsAHogAsOOMKilled(t *testing.T) {
	r := cgroupRuntime(t, defaultCgroupRoot)
	c := &api.Container{Resources: &api.ResourceRequirements{Limits: map[string]string{"memory": "32Mi"}}}
	p := startIn(t, r, t.TempDir(), c, "sh", "-c", "x=a; while :; do x=$x$x; done")
	if p.cg.file("memory.max") == "" && p.cg.file("memory.limit_in_bytes") == "" {
		t.Skip("no memory controller")
	}
	code, err := p.Wait()
	if err != nil || code != 137 || !p.OOMKilled() {
		t.Errorf("Wait() = %d, %v, OOMKilled() = %v; want 137, nil, true", code, err, p.OOMKilled())
	}
}

func TestCgroupLimitsAreWritten(t *testing.T) {
	r := cgroupRuntime(t, defaultCgroupRoot)
	c := &api.Container{Resources: &api.ResourceRequirements{Limits: map[string]string{"cpu": "250m", "memory": "64Mi"}}}
	p := startIn(t, r, t.TempDir(), c, "sleep", "300")
	want := map[string]string{"cpu.cfs_quota_us": "25000", "cpu.cfs_period_us": "100000", "memory.limit_in_bytes": "67108864"}
	if p.cg.v2 {
		want = map[string]string{"cpu.max": "25000 100000", "memory.max": "67108864"}
	}
	for name, value := range want {
		path := p.cg.file(name)
		if path == "" {
			t.Errorf("no %s in %v", name, p.cg.paths)
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(got)) != value {
			t.Errorf("%s = %q, %v; want %q", path, got, err, value)
		}
	}
	procs, err := cgroupProcs(p.cg.paths[0])
	if err != nil || len(procs) != 1 || procs[0] != p.PID() {
		t.Errorf("cgroup processes = %v, %v; want [%d]", procs, err, p.PID())
	}
}

func TestKillOrphanKillsTheRunsCgroup(t *testing.T) {
	r := cgroupRuntime(t, defaultCgroupRoot)
	p, child := escapee(t, r, "sleep 300")
	// An agent that restarted without cgroups still finds them.
	if err := NewProcessRuntime().KillOrphan(p.ID()); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the setsid child to end", func() (bool, string) { return processGone(child) })
	for _, dir := range p.cg.paths {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s still there after KillOrphan: %v", dir, err)
		}
	}
	if code, err := p.Wait(); err != nil || code != 137 {
		t.Errorf("Wait() = %d, %v; want 137, nil", code, err)
	}
}

func TestProcessRuntimeFallsBackToProcessGroups(t *testing.T) {
	r, warnings, err := NewProcessRuntimeWith(ProcessOptions{Cgroups: true, CgroupParent: "jobcluster-test", CgroupRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "pods are killed by process group, limits are not enforced") {
		t.Fatalf("warnings = %q, want one saying pods are killed by process group", warnings)
	}
	c := &api.Container{Resources: &api.ResourceRequirements{Limits: map[string]string{"memory": "32Mi"}}}
	p := startIn(t, r, t.TempDir(), c, "sh", "-c", "sleep 300 & sleep 300 & wait")
	if p.cg != nil || strings.Count(p.ID(), "/") != 2 {
		t.Errorf("run has cgroup %v and ID %q, want none and PID/BOOT/START", p.cg, p.ID())
	}
	wait.For(t, "children started", func() (bool, string) {
		return countGroup(p.PID()) >= 3, fmt.Sprintf("%d processes in the group", countGroup(p.PID()))
	})
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); err != nil || code != 137 {
		t.Errorf("Wait() = %d, %v; want 137, nil", code, err)
	}
	waitGroupGone(t, p.PID())
}

func TestNewProcessRuntimeWithRefusesABadCgroupParent(t *testing.T) {
	for _, parent := range []string{"../escape", "a/../../b", "a//b"} {
		if _, _, err := NewProcessRuntimeWith(ProcessOptions{Cgroups: true, CgroupParent: parent}); err == nil {
			t.Errorf("cgroup parent %q accepted", parent)
		}
	}
}

func TestCFSQuotaMicros(t *testing.T) {
	tests := []struct {
		name   string
		millis int64
		want   int64
	}{
		{name: "a quarter core", millis: 250, want: 25000},
		{name: "one core", millis: 1000, want: 100000},
		{name: "two and a half cores", millis: 2500, want: 250000},
		{name: "one millicore is raised to the kernel's minimum", millis: 1, want: 1000},
		{name: "ten millicores is the minimum", millis: 10, want: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cfsQuotaMicros(tt.millis); got != tt.want {
				t.Errorf("cfsQuotaMicros(%d) = %d, want %d", tt.millis, got, tt.want)
			}
		})
	}
}

func TestOOMKillCount(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    int
	}{
		{name: "v1 oom_control after a kill", content: "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", want: 2},
		{name: "v2 memory.events", content: "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n", want: 1},
		{name: "an old kernel without the counter", content: "oom_kill_disable 0\nunder_oom 0\n", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oomKillCount(tt.content); got != tt.want {
				t.Errorf("oomKillCount = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseProcessID(t *testing.T) {
	tests := []struct {
		name       string
		id         string
		wantPID    int
		wantBoot   string
		wantStart  uint64
		wantCgroup string
		wantErr    bool
	}{
		{name: "an ID from before cgroups", id: "123/boot-a/456", wantPID: 123, wantBoot: "boot-a", wantStart: 456},
		{name: "an ID with a cgroup", id: "123/boot-a/456/jobcluster/node-1/run-0a", wantPID: 123, wantBoot: "boot-a", wantStart: 456, wantCgroup: "jobcluster/node-1/run-0a"},
		{name: "a cgroup climbing out of the hierarchy", id: "123/boot-a/456/../etc", wantErr: true},
		{name: "an empty cgroup", id: "123/boot-a/456/", wantErr: true},
		{name: "too few parts", id: "123/boot-a", wantErr: true},
		{name: "init is never a pod", id: "1/boot-a/456", wantErr: true},
		{name: "a start time that is no number", id: "123/boot-a/x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, boot, start, cgroupPath, err := parseProcessID(tt.id)
			if tt.wantErr {
				if err == nil {
					t.Errorf("parseProcessID(%q) accepted", tt.id)
				}
				return
			}
			if err != nil || pid != tt.wantPID || boot != tt.wantBoot || start != tt.wantStart || cgroupPath != tt.wantCgroup {
				t.Errorf("parseProcessID(%q) = %d, %q, %d, %q, %v; want %d, %q, %d, %q, nil",
					tt.id, pid, boot, start, cgroupPath, err, tt.wantPID, tt.wantBoot, tt.wantStart, tt.wantCgroup)
			}
		})
	}
}

func TestCgroupV1CreatesOnlyTheHierarchiesARunNeeds(t *testing.T) {
	tests := []struct {
		name        string
		hybrid      bool
		cpu, memory bool
		want        []string
		atFork      bool
	}{
		{"no limits: the counting hierarchy only", false, false, false, []string{"freezer"}, false},
		{"a memory limit", false, false, true, []string{"freezer", "memory"}, false},
		{"a cpu limit", false, true, false, []string{"freezer", "cpu"}, false},
		{"both", false, true, true, []string{"freezer", "memory", "cpu"}, false},
		{"hybrid, no limits: the v2 hierarchy only, entered at fork", true, false, false, []string{hybridUnified}, true},
		{"hybrid, a memory limit: v1 as without it", true, false, true, []string{"freezer", "memory"}, false},
		{"hybrid, a cpu limit: v1 as without it", true, true, false, []string{"freezer", "cpu"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			h := &cgroupHierarchy{}
			for _, c := range cgroupV1Controllers {
				h.dirs = append(h.dirs, filepath.Join(root, c))
			}
			if tt.hybrid {
				h.unified = filepath.Join(root, hybridUnified)
			}
			cg, err := h.create("jobcluster/run-x", tt.cpu, tt.memory)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range append(slices.Clone(cgroupV1Controllers), hybridUnified) {
				if _, err := os.Stat(filepath.Join(root, c, "jobcluster/run-x")); err == nil {
					got = append(got, c)
				}
			}
			if !slices.Equal(got, tt.want) || len(cg.paths) != len(tt.want) {
				t.Errorf("directories in %v (paths %v), want %v", got, cg.paths, tt.want)
			}
			if h.atFork(tt.cpu, tt.memory) != tt.atFork || cg.v2 != tt.atFork {
				t.Errorf("atFork = %v, cgroup v2 = %v; want %v", h.atFork(tt.cpu, tt.memory), cg.v2, tt.atFork)
			}
		})
	}
}

// TestHybridRunWithoutLimitsStartsInItsCgroup: on a hybrid mount, a run
// without limits is in a cgroup of its own in the v2 hierarchy from its
// fork, and the cgroup ends every process of the run, escapees included.
func TestHybridRunWithoutLimitsStartsInItsCgroup(t *testing.T) {
	r := cgroupRuntime(t, defaultCgroupRoot)
	if r.cgroups.v2 || r.cgroups.unified == "" {
		t.Skip("cgroup v1 without a hybrid mount, or v2: no hybrid mount here")
	}
	p, escaped := escapee(t, r, "exec sleep 300")
	if len(p.cg.paths) != 1 || !strings.HasPrefix(p.cg.paths[0], r.cgroups.unified+"/") {
		t.Fatalf("run's cgroups %v, want one under %s", p.cg.paths, r.cgroups.unified)
	}
	rel := strings.TrimPrefix(p.cg.paths[0], r.cgroups.unified)
	for _, pid := range []int{p.pid, escaped} {
		cg := readCgroups("/proc", strconv.Itoa(pid))
		if cg[""] != rel {
			t.Errorf("process %d is in v2 cgroup %q, want %q", pid, cg[""], rel)
		}
	}
	if err := p.cg.kill(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{p.pid, escaped} {
		wait.For(t, "the run's processes to end", func() (bool, string) { return processGone(pid) })
	}
}

func TestKillingAnEmptyCgroupDoesNotFreezeIt(t *testing.T) {
	// A directory standing in for a v1 freezer cgroup: writing FROZEN to
	// it would be seen, and nothing is listed in cgroup.procs.
	dir := t.TempDir()
	for name, content := range map[string]string{"cgroup.procs": "", "freezer.state": "THAWED\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := killCgroupDir(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "freezer.state")); string(b) != "THAWED\n" {
		t.Errorf("freezer.state = %q: an empty cgroup was frozen", b)
	}
	if err := killCgroupDir(filepath.Join(dir, "gone")); err != nil {
		t.Errorf("a cgroup that no longer exists: %v, want nil", err)
	}
}

// TestPreparedRunBeginsOnlyWhenToldAndIsDiscardedUnrun prepares runs in
// cgroups: on cgroup v1 the process exists ahead, already in its cgroup,
// stopped before its first instruction, and runs once begun; a discarded
// one ends without having run. On v2 there is nothing to prepare.
func TestPreparedRunBeginsOnlyWhenToldAndIsDiscardedUnrun(t *testing.T) {
	for _, h := range testCgroupRoots {
		t.Run(h.name, func(t *testing.T) {
			r := cgroupRuntime(t, h.root)
			dir := t.TempDir()
			out, err := os.Create(filepath.Join(t.TempDir(), "out.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			spec := func(marker string, c *api.Container) ProcessSpec {
				return ProcessSpec{Command: []string{"sh", "-c", "touch " + marker + "; exec sleep 300"}, Env: pathEnv(), Dir: dir, Stdout: out, Container: c}
			}
			prepare := func(marker string, c *api.Container) *preparedProcess {
				t.Helper()
				pp, err := r.Prepare(context.Background(), spec(marker, c))
				if err != nil {
					t.Fatalf("prepare: %v", err)
				}
				if r.cgroups.v2 {
					if pp != nil {
						t.Fatal("prepared a run on cgroup v2, where a start costs no more")
					}
					return nil
				}
				if pp == nil {
					t.Fatal("prepared nothing on cgroup v1")
				}
				p := pp.(*preparedProcess)
				status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.p.pid))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(status), "State:\tt (tracing stop)") {
					t.Fatalf("prepared process %d is not stopped:\n%s", p.p.pid, status)
				}
				for _, cgdir := range p.p.cg.paths {
					procs, err := os.ReadFile(filepath.Join(cgdir, "cgroup.procs"))
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(p.p.pid)) {
						t.Errorf("prepared process %d is not yet in its cgroup %s", p.p.pid, cgdir)
					}
				}
				if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
					t.Fatalf("prepared process %d ran", p.p.pid)
				}
				return p
			}

			// Without limits a run on a hybrid mount forks into its v2
			// cgroup; a cpu limit keeps it in v1 cgroups.
			limited := &api.Container{Name: "c", Resources: &api.ResourceRequirements{Limits: map[string]string{"cpu": "250m"}}}
			for _, c := range []*api.Container{nil, limited} {
				marker := fmt.Sprintf("begun-%v", c != nil)
				begun := prepare(marker, c)
				if begun == nil {
					return
				}
				proc, err := begun.Begin()
				if err != nil {
					t.Fatalf("begin: %v", err)
				}
				wait.For(t, "the begun run to run", func() (bool, string) {
					_, err := os.Stat(filepath.Join(dir, marker))
					return err == nil, fmt.Sprint(err)
				})
				if err := proc.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				if code, err := proc.Wait(); err != nil || code != 137 {
					t.Errorf("begun run ended %d, %v; want 137 (killed)", code, err)
				}
			}

			discarded := prepare("discarded", nil)
			discarded.Discard()
			if gone, msg := processGone(discarded.p.pid); !gone {
				t.Fatalf("discarded run: %s", msg)
			}
			if _, err := os.Stat(filepath.Join(dir, "discarded")); err == nil {
				t.Error("the discarded run ran")
			}
		})
	}
}

// TestCgroupParentsAreRemovedOnceTheAgentStops: an agent that stops leaves
// none of the cgroup directories it made, keeps those that were there
// before it, and keeps one that still holds a run.
func TestCgroupParentsAreRemovedOnceTheAgentStops(t *testing.T) {
	for _, h := range testCgroupRoots {
		t.Run(h.name, func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("cgroups need root")
			}
			hier, err := detectCgroups(h.root)
			if err != nil {
				t.Skipf("no cgroups at %s: %v", h.root, err)
			}
			top := filepath.Join("jobcluster-test", newCgroupName())
			made := filepath.Join(top, "made", "node")
			kept := filepath.Join(top, "kept")
			t.Cleanup(func() {
				for _, rel := range []string{made, filepath.Dir(made), filepath.Join(kept, "node"), kept, top, filepath.Dir(top)} {
					for _, dir := range hier.paths(rel) {
						_ = unix.Rmdir(dir) // what is gone or still used stays as it is
					}
				}
			})
			newRuntime := func(parent string) *ProcessRuntime {
				r, warnings, err := NewProcessRuntimeWith(ProcessOptions{Cgroups: true, CgroupParent: parent, CgroupRoot: h.root})
				if err != nil {
					t.Fatal(err)
				}
				if r.cgroups == nil {
					t.Skipf("cgroups at %s are not writable: %q", h.root, warnings)
				}
				return r
			}
			exists := func(rel string) bool {
				for _, dir := range hier.paths(rel) {
					if _, err := os.Stat(dir); err == nil {
						return true
					}
				}
				return false
			}

			// Made by the runtime: gone once the agent stops.
			r := newRuntime(made)
			p := startIn(t, r, t.TempDir(), &api.Container{Name: "c"}, "true")
			if _, err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			removeCgroupParents(r)
			for _, rel := range []string{made, filepath.Dir(made)} {
				if exists(rel) {
					t.Errorf("cgroup %s left after the agent stopped", rel)
				}
			}

			// There before the runtime: kept. A parent still holding a
			// run stays until the run is gone.
			for _, dir := range hier.paths(kept) {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			r = newRuntime(filepath.Join(kept, "node"))
			p = startIn(t, r, t.TempDir(), &api.Container{Name: "c"}, "sleep", "300")
			removeCgroupParents(r)
			if !exists(filepath.Join(kept, "node")) {
				t.Error("a cgroup parent holding a running run was removed")
			}
			if err := p.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			removeCgroupParents(r)
			if exists(filepath.Join(kept, "node")) {
				t.Error("cgroup parent left after its last run ended and the agent stopped")
			}
			if !exists(kept) {
				t.Error("a cgroup parent that was there before the agent was removed")
			}
		})
	}
}
