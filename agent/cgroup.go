package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// defaultCgroupRoot is where cgroup hierarchies are mounted.
const defaultCgroupRoot = "/sys/fs/cgroup"

// cfsPeriodMicros is the CFS period for CPU limits, as kubelet sets it.
const cfsPeriodMicros = 100000

// minCFSQuotaMicros is the smallest quota the kernel accepts.
const minCFSQuotaMicros = 1000

// cgroupKillTimeout bounds how long killing everything in a cgroup and
// removing it may take.
const cgroupKillTimeout = 10 * time.Second

// The cgroup v1 controllers the process runtime uses. The first one
// present is where the runtime counts a run's processes; freezer comes first
// because killing freezes through it.
var cgroupV1Controllers = []string{"freezer", "memory", "cpu", "pids"}

// cgroupHierarchy is the cgroup file system of this machine: one v2
// hierarchy, or one v1 hierarchy per controller.
type cgroupHierarchy struct {
	v2 bool
	// dirs are the mount directories: the v2 root, or one per v1
	// controller in the order of cgroupV1Controllers.
	dirs []string
	// unified is, beside v1 hierarchies, the v2 hierarchy of a hybrid
	// mount (<root>/unified, as systemd mounts it), or "". A run without
	// limits gets its cgroup there, at its fork, as on v2: moving a
	// process into a v1 cgroup waits for an RCU grace period, often 10
	// to 20 ms on an idle machine, in every pod's start.
	unified string
}

// hybridUnified is where systemd mounts the v2 hierarchy beside v1 ones.
const hybridUnified = "unified"

// atFork tells whether a run with these limits gets its cgroup as it
// forks (clone3 with CLONE_INTO_CGROUP), so that nothing is moved and
// there is nothing to prepare.
func (h *cgroupHierarchy) atFork(cpu, memory bool) bool {
	return h.v2 || (h.unified != "" && !cpu && !memory)
}

// detectCgroups finds the cgroup hierarchies mounted at root.
func detectCgroups(root string) (*cgroupHierarchy, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return nil, fmt.Errorf("detect cgroups at %s: %w", root, err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return &cgroupHierarchy{v2: true, dirs: []string{root}}, nil
	}
	h := &cgroupHierarchy{}
	for _, c := range cgroupV1Controllers {
		dir := filepath.Join(root, c)
		if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.CGROUP_SUPER_MAGIC {
			h.dirs = append(h.dirs, dir)
		}
	}
	if len(h.dirs) == 0 {
		return nil, fmt.Errorf("detect cgroups at %s: neither cgroup v2 nor any of the v1 controllers %v is mounted", root, cgroupV1Controllers)
	}
	if dir := filepath.Join(root, hybridUnified); unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		h.unified = dir
	}
	return h, nil
}

// paths returns the directories of the cgroup rel in every hierarchy.
func (h *cgroupHierarchy) paths(rel string) []string {
	paths := make([]string, 0, len(h.dirs)+1)
	for _, d := range h.dirs {
		paths = append(paths, filepath.Join(d, rel))
	}
	if h.unified != "" {
		paths = append(paths, filepath.Join(h.unified, rel))
	}
	return paths
}

// create makes the cgroup rel, and its parents. On v2 it first enables
// the memory, cpu and pids controllers for the children of each ancestor;
// a controller that cannot be enabled is left out. On v1 it makes the
// first hierarchy's directory, which counts the run's processes, and the
// memory and cpu ones only when cpu and memory say they are needed: a
// memory cgroup is the costly one to create and remove, and most runs set
// no limit. On v1 with a hybrid mount, a run without limits gets its
// cgroup in the v2 hierarchy instead (see unified), which has no
// controllers: nothing to enable.
func (h *cgroupHierarchy) create(rel string, cpu, memory bool) (*cgroup, error) {
	if !h.v2 && h.atFork(cpu, memory) {
		dir := filepath.Join(h.unified, rel)
		if err := mkdirCgroup(dir); err != nil {
			return nil, err
		}
		return &cgroup{v2: true, paths: []string{dir}, noMemory: true}, nil
	}
	if h.v2 {
		parts := strings.Split(filepath.Clean(rel), string(filepath.Separator))
		dir := h.dirs[0]
		for _, part := range parts {
			enableV2Controllers(dir)
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
			}
		}
		return &cgroup{v2: true, paths: []string{dir}}, nil
	}
	cg := &cgroup{noMemory: true}
	for i, top := range h.dirs {
		controller := filepath.Base(top)
		switch {
		case i == 0, controller == "memory" && memory, controller == "cpu" && cpu:
		default:
			continue
		}
		dir := filepath.Join(top, rel)
		if err := mkdirCgroup(dir); err != nil {
			_ = cg.remove()
			return nil, err
		}
		cg.paths = append(cg.paths, dir)
		if controller == "memory" {
			cg.noMemory = false
		}
	}
	return cg, nil
}

// mkdirCgroup makes the cgroup directory dir, and its parents. They exist
// for every run but the first: Mkdir alone spares MkdirAll's two stats.
func mkdirCgroup(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, os.ErrNotExist) {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	return nil
}

// enableV2Controllers enables for the children of dir those of memory, cpu
// and pids that dir has.
func enableV2Controllers(dir string) {
	b, err := readSmallFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return
	}
	for _, c := range strings.Fields(string(b)) {
		if c == "memory" || c == "cpu" || c == "pids" {
			// A cgroup that holds processes itself cannot pass
			// controllers on; the run then simply goes without.
			_ = writeCgroupFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+c)
		}
	}
}

// newCgroupName returns a fresh name for the cgroup of one run.
func newCgroupName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "run-" + hex.EncodeToString(b)
}

// cgroup is the cgroup of one run: one directory on v2, one per controller
// on v1. Every process of the run is in all of them.
type cgroup struct {
	v2    bool
	paths []string
	// noMemory says the cgroup has no memory controller (a v1 run
	// without a memory limit), so no process of it was killed for memory.
	noMemory bool
}

// file returns the path of the control file name in the directory that
// has it, or "" if none has.
func (cg *cgroup) file(name string) string {
	for _, dir := range cg.paths {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// limit carries a container's resource limits into the cgroup.
func (cg *cgroup) limit(cpuMillis, memoryBytes int64) error {
	var writes [][2]string
	if cpuMillis > 0 {
		quota := cfsQuotaMicros(cpuMillis)
		if cg.v2 {
			writes = append(writes, [2]string{"cpu.max", fmt.Sprintf("%d %d", quota, cfsPeriodMicros)})
		} else {
			writes = append(writes,
				[2]string{"cpu.cfs_period_us", strconv.Itoa(cfsPeriodMicros)},
				[2]string{"cpu.cfs_quota_us", strconv.FormatInt(quota, 10)})
		}
	}
	if memoryBytes > 0 {
		limit := strconv.FormatInt(memoryBytes, 10)
		if cg.v2 {
			writes = append(writes, [2]string{"memory.max", limit}, [2]string{"memory.swap.max", "0"}, [2]string{"memory.oom.group", "1"})
		} else {
			// memsw must not be below the memory limit, so it comes second.
			writes = append(writes, [2]string{"memory.limit_in_bytes", limit}, [2]string{"memory.memsw.limit_in_bytes", limit})
		}
	}
	for _, w := range writes {
		path := cg.file(w[0])
		if path == "" {
			// The controller is missing, which the runtime warned
			// about when it started.
			continue
		}
		if err := writeCgroupFile(path, w[1]); err != nil {
			return fmt.Errorf("limit cgroup: write %s to %s: %w", w[1], path, err)
		}
	}
	return nil
}

// cfsQuotaMicros turns millicores into a CFS quota per cfsPeriodMicros.
func cfsQuotaMicros(millis int64) int64 {
	return max(millis*cfsPeriodMicros/1000, minCFSQuotaMicros)
}

// add moves pid into the cgroup, in every hierarchy.
func (cg *cgroup) add(pid int) error {
	for _, dir := range cg.paths {
		if err := writeCgroupFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("add process %d to cgroup %s: %w", pid, dir, err)
		}
	}
	return nil
}

// oomKills returns how often the kernel killed a process of the cgroup for
// going over its memory limit.
func (cg *cgroup) oomKills() int {
	if cg.noMemory {
		return 0
	}
	name := "memory.oom_control"
	if cg.v2 {
		name = "memory.events"
	}
	path := cg.file(name)
	if path == "" {
		return 0
	}
	b, err := readSmallFile(path)
	if err != nil {
		return 0
	}
	return oomKillCount(string(b))
}

// oomKillCount reads the oom_kill counter of memory.oom_control (v1) or
// memory.events (v2).
func oomKillCount(content string) int {
	for _, line := range strings.Split(content, "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// kill kills every process in the cgroup and waits until none is left.
func (cg *cgroup) kill() error {
	var errs []error
	for _, dir := range cg.paths {
		if err := killCgroupDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// remove kills what is left in the cgroup and removes its directories.
func (cg *cgroup) remove() error {
	var errs []error
	for _, dir := range cg.paths {
		// A run that left nothing behind has an empty cgroup, which the
		// kernel removes at once: that spares reading its process list.
		if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			continue
		}
		errs = append(errs, killCgroupDir(dir), removeCgroupDir(dir))
	}
	return errors.Join(errs...)
}

// killCgroupDir kills every process in the cgroup at dir, whichever
// version and controller it belongs to, until none is left. A v2 cgroup
// with cgroup.kill lets the kernel do it at once. Otherwise the cgroup is
// frozen when it can be, so that nothing forks between reading the list
// and killing it, everything listed is killed, the cgroup thawed (a frozen
// process only dies once thawed), and all over again until it is empty.
// A cgroup that no longer exists is empty.
func killCgroupDir(dir string) error {
	// An empty cgroup stays empty, as only its own processes could add one:
	// the common case, a pod that left nothing behind, needs no freezing.
	if pids, err := cgroupProcs(dir); errors.Is(err, os.ErrNotExist) || (err == nil && len(pids) == 0) {
		return nil
	}
	if err := writeCgroupFile(filepath.Join(dir, "cgroup.kill"), "1"); err == nil {
		return waitCgroupEmpty(dir)
	}
	freeze, thaw := cgroupFreezer(dir)
	deadline := time.Now().Add(cgroupKillTimeout)
	for {
		freeze()
		pids, err := cgroupProcs(dir)
		if err == nil {
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		thaw()
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil
		case err != nil:
			return fmt.Errorf("kill cgroup %s: %w", dir, err)
		case len(pids) == 0:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("kill cgroup %s: processes %v still there after %s", dir, pids, cgroupKillTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cgroupFreezer returns functions that freeze and thaw the cgroup at dir,
// or that do nothing when it has no freezer. freeze waits, briefly, until
// the kernel reports the cgroup frozen.
func cgroupFreezer(dir string) (freeze, thaw func()) {
	noop := func() {}
	if state := filepath.Join(dir, "freezer.state"); fileExists(state) {
		return func() {
				if writeCgroupFile(state, "FROZEN") != nil {
					return
				}
				waitFile(state, "FROZEN")
			}, func() {
				_ = writeCgroupFile(state, "THAWED")
			}
	}
	if freezeFile := filepath.Join(dir, "cgroup.freeze"); fileExists(freezeFile) {
		events := filepath.Join(dir, "cgroup.events")
		return func() {
				if writeCgroupFile(freezeFile, "1") != nil {
					return
				}
				waitFile(events, "frozen 1")
			}, func() {
				_ = writeCgroupFile(freezeFile, "0")
			}
	}
	return noop, noop
}

// waitFile waits up to a second until the file at path contains want.
func waitFile(path, want string) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		b, err := readSmallFile(path)
		if err != nil || strings.Contains(string(b), want) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// waitCgroupEmpty waits until the cgroup at dir lists no process.
func waitCgroupEmpty(dir string) error {
	deadline := time.Now().Add(cgroupKillTimeout)
	for {
		pids, err := cgroupProcs(dir)
		if errors.Is(err, os.ErrNotExist) || (err == nil && len(pids) == 0) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kill cgroup %s: processes %v still there after %s", dir, pids, cgroupKillTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cgroupProcs lists the processes in the cgroup at dir.
func cgroupProcs(dir string) ([]int, error) {
	b, err := readSmallFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// removeCgroupDir removes the empty cgroup at dir. The kernel may still
// count a process that was just killed, so a busy cgroup is tried again
// for a while.
func removeCgroupDir(dir string) error {
	deadline := time.Now().Add(cgroupKillTimeout)
	for {
		err := unix.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, unix.ENOENT):
			return nil
		case !errors.Is(err, unix.EBUSY) || time.Now().After(deadline):
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// missingControllers returns warnings for the limits that cgroups like cg,
// under parent, cannot carry.
func (cg *cgroup) missingControllers(parent string) []string {
	var warnings []string
	if cg.file("cpu.max") == "" && cg.file("cpu.cfs_quota_us") == "" {
		warnings = append(warnings, fmt.Sprintf("the cgroup cpu controller is not available under %s: cpu limits are not enforced", parent))
	}
	if cg.file("memory.max") == "" && cg.file("memory.limit_in_bytes") == "" {
		warnings = append(warnings, fmt.Sprintf("the cgroup memory controller is not available under %s: memory limits are not enforced", parent))
	}
	return warnings
}
