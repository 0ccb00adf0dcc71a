package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"golang.org/x/sys/unix"
)

// ProcessRuntime runs containers as plain processes of this machine, each
// in its own process group and with SIGKILL as its parent-death signal, and,
// when cgroups are in use, in a cgroup of its own that carries its CPU and
// memory limits and lets every process it started be killed, including
// those that left its process group. With the agent's guard, the children
// those processes start die with the agent too.
type ProcessRuntime struct {
	guard   *guard
	podUser *PodUser
	// mountExec runs MountExec (this binary's agent-mount-exec), for pods
	// that mount volumes; empty means they cannot run here.
	mountExec []string
	targets   mountTargets
	// cgroups is nil when runs go without cgroups.
	cgroups      *cgroupHierarchy
	cgroupParent string
	cgroupRoot   string
	// madeParents are the directories of cgroupParent that did not exist
	// before this runtime, parents first: removeCgroupParents removes them.
	madeParents []string
}

// ProcessOptions configure the process runtime.
type ProcessOptions struct {
	// PodUser is the user pods run as when their security context names
	// none. Nil keeps the agent's own user.
	PodUser *PodUser
	// MountExecCommand runs MountExec in a process of its own, for pods
	// that mount volumes (jobcluster's agent-mount-exec); without it such
	// pods fail to start here.
	MountExecCommand []string
	// Cgroups runs every container in a cgroup of its own, if cgroups are
	// writable here.
	Cgroups bool
	// CgroupParent is the cgroup, relative to the root of each hierarchy,
	// under which the runs get theirs, for example "jobcluster/node-1"; two
	// agents on one machine need different ones. Empty means "jobcluster".
	CgroupParent string
	// CgroupRoot is where the cgroup file systems are mounted; empty means
	// /sys/fs/cgroup.
	CgroupRoot string
}

// NewProcessRuntime returns the process runtime with its defaults: the
// agent's own user and no cgroups.
func NewProcessRuntime() *ProcessRuntime { return &ProcessRuntime{cgroupRoot: defaultCgroupRoot} }

// NewProcessRuntimeWith returns the process runtime configured by opts,
// and warnings for the agent to log: what it had to go without. Where
// cgroups were asked for but are not writable, it falls back to process
// groups. It fails only for options that cannot work.
func NewProcessRuntimeWith(opts ProcessOptions) (*ProcessRuntime, []string, error) {
	r := NewProcessRuntime()
	r.mountExec = opts.MountExecCommand
	if opts.CgroupRoot != "" {
		r.cgroupRoot = opts.CgroupRoot
	}
	if u := opts.PodUser; u != nil {
		if os.Geteuid() != 0 && (u.UID != uint32(os.Geteuid()) || u.GID != uint32(os.Getegid())) {
			return nil, nil, fmt.Errorf("--pod-user %d:%d: the agent runs as uid %d and only root can start processes as another user: run the agent as root or drop --pod-user", u.UID, u.GID, os.Geteuid())
		}
		r.podUser = u
	}
	if !opts.Cgroups {
		return r, nil, nil
	}
	parent, err := cleanCgroupPath(opts.CgroupParent)
	if err != nil {
		return nil, nil, fmt.Errorf("--cgroup-parent: %w", err)
	}
	if parent == "" {
		parent = "jobcluster"
	}
	fallback := "pods are killed by process group, limits are not enforced"
	h, err := detectCgroups(r.cgroupRoot)
	if err != nil {
		return r, []string{fmt.Sprintf("cgroups are not available (%v): %s", err, fallback)}, nil
	}
	made := missingDirs(h.paths(parent))
	probe, err := h.create(filepath.Join(parent, "probe-"+newCgroupName()), true, true)
	if err != nil {
		return r, []string{fmt.Sprintf("cgroups are not writable at %s (%v): %s", r.cgroupRoot, err, fallback)}, nil
	}
	warnings := probe.missingControllers(parent)
	if err := probe.remove(); err != nil {
		return r, []string{fmt.Sprintf("cgroups are not writable at %s (%v): %s", r.cgroupRoot, err, fallback)}, nil
	}
	r.cgroups, r.cgroupParent, r.madeParents = h, parent, made
	if h.unified != "" {
		if err := r.probeForkIntoCgroup(); err != nil {
			// Runs without limits then go into v1 cgroups too.
			h.unified = ""
		}
	}
	return r, warnings, nil
}

// probeForkIntoCgroup tells whether a run without limits can start in its
// v2 cgroup as it forks, through the runs' own path: clone3 with
// CLONE_INTO_CGROUP needs Linux 5.7, and a seccomp filter may refuse
// clone3. The child is this binary, traced, so it is killed stopped at its
// execve without running an instruction.
func (r *ProcessRuntime) probeForkIntoCgroup() error {
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{"jobcluster-cgroup-probe"},
		SysProcAttr: &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL},
	}
	cg, err := r.startInCgroup(cmd, filepath.Join(r.cgroupParent, "probe-"+newCgroupName()), ProcessSpec{})
	if err != nil {
		return err
	}
	defer func() { _ = cg.remove() }()
	err = spawn(context.Background(), cmd, nil)
	if cmd.SysProcAttr.UseCgroupFD {
		_ = syscall.Close(cmd.SysProcAttr.CgroupFD)
	}
	if err != nil {
		return fmt.Errorf("start a process in cgroup %s: %w", cg.paths[0], err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil
}

// missingDirs returns the directories of each of paths, and of their
// parents, that do not exist yet, parents first.
func missingDirs(paths []string) []string {
	var missing []string
	for _, p := range paths {
		var chain []string
		for d := p; ; d = filepath.Dir(d) {
			if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
				break
			}
			chain = append(chain, d)
		}
		slices.Reverse(chain)
		missing = append(missing, chain...)
	}
	return missing
}

// removeCgroupParents removes the cgroup parent directories this runtime
// made, once the agent has stopped its pods: an agent that stops leaves
// no cgroup behind. A directory still in use (another agent's cgroups
// under a shared parent, a run that outlived its kill) stays.
func (r *ProcessRuntime) removeCgroupParents() {
	for i := len(r.madeParents) - 1; i >= 0; i-- {
		_ = unix.Rmdir(r.madeParents[i])
	}
}

// cleanCgroupPath checks a cgroup path relative to a hierarchy's root.
func cleanCgroupPath(p string) (string, error) {
	clean := strings.Trim(filepath.Clean("/"+p), "/")
	if clean != strings.Trim(p, "/") {
		return "", fmt.Errorf("cgroup path %q is not clean: give one like jobcluster/node-1", p)
	}
	return clean, nil
}

// useGuard makes the guard kill the pods' process groups and cgroups
// should the agent die. The agent calls it once, before the first Start.
func (r *ProcessRuntime) useGuard(g *guard) { r.guard = g }

type spawnRequest struct {
	// do, when set, is all there is to do, on the spawner's thread.
	do  func() error
	cmd *exec.Cmd
	// started, if not nil, runs on the spawner's thread right after the
	// process started.
	started func(pid int) error
	done    chan error
}

var (
	spawnOnce  sync.Once
	spawnQueue chan spawnRequest
)

// spawner starts every pod process of this agent process. The kernel sends
// the parent-death signal when the OS thread that forked the child exits,
// not the process, so all forks happen on one thread that stays locked to
// this goroutine, which never returns. Being one thread also lets it trace
// the processes it starts (see enterCgroupAtExec).
func spawner(reqs <-chan spawnRequest) {
	runtime.LockOSThread()
	for req := range reqs {
		if req.do != nil {
			req.done <- req.do()
			continue
		}
		err := req.cmd.Start()
		if err == nil && req.started != nil {
			err = req.started(req.cmd.Process.Pid)
		}
		req.done <- err
	}
}

// spawn starts cmd on the spawner's thread. When started fails, the
// process has been started: the caller kills and reaps it.
func spawn(ctx context.Context, cmd *exec.Cmd, started func(pid int) error) error {
	return toSpawner(ctx, spawnRequest{cmd: cmd, started: started, done: make(chan error, 1)})
}

// onSpawnerThread runs do on the spawner's thread: the tracer of the
// processes it started traced.
func onSpawnerThread(do func() error) error {
	return toSpawner(context.Background(), spawnRequest{do: do, done: make(chan error, 1)})
}

func toSpawner(ctx context.Context, req spawnRequest) error {
	spawnOnce.Do(func() {
		spawnQueue = make(chan spawnRequest)
		go spawner(spawnQueue)
	})
	select {
	case spawnQueue <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.done
}

// Start starts spec.Command. A command name without a slash is looked up
// in the PATH of spec.Env.
func (r *ProcessRuntime) Start(ctx context.Context, spec ProcessSpec) (Process, error) {
	p, err := r.start(ctx, spec, false)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Prepare prepares a run where that saves time at its start: on cgroup
// v1, where the process must be held at its exec while it is moved into
// its cgroup (v2 creates it there), which takes milliseconds. The process
// is started, traced, in its cgroup (moved there, or on a hybrid mount
// forked there when the run has no limits), and stays stopped right after
// its execve, before its first instruction, until Begin: its start is
// then only the detach, which a cron run's start at its second needs, and
// the exec overlaps the pod's journal write. Elsewhere a start costs a
// fork and an exec, and there is nothing to prepare.
func (r *ProcessRuntime) Prepare(ctx context.Context, spec ProcessSpec) (Prepared, error) {
	if r.cgroups == nil || r.cgroups.v2 {
		return nil, nil
	}
	p, err := r.start(ctx, spec, true)
	if err != nil {
		return nil, err
	}
	return &preparedProcess{p: p}, nil
}

// preparedProcess is a process stopped after its execve, traced by the
// spawner's thread.
type preparedProcess struct{ p *process }

func (pp *preparedProcess) ID() string { return pp.p.id }

func (pp *preparedProcess) Begin() (Process, error) {
	if err := onSpawnerThread(func() error { return unix.PtraceDetach(pp.p.pid) }); err != nil {
		pp.Discard()
		return nil, fmt.Errorf("let process %d run: %w", pp.p.pid, err)
	}
	return pp.p, nil
}

func (pp *preparedProcess) Discard() {
	// Killed while stopped, it never runs an instruction of its own.
	_ = unix.Kill(pp.p.pid, unix.SIGKILL)
	_, _ = pp.p.Wait()
}

// devNull is the null device, opened once for every run's stdin: left
// nil, exec.Cmd opens and closes it at each start.
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// nullStdin is the stdin of a run: devNull, or nil (exec.Cmd then opens
// the null device itself) should it not open.
func nullStdin() io.Reader {
	if f, err := devNull(); err == nil {
		return f
	}
	return nil
}

// start starts spec.Command; with hold (cgroup v1 only), the process stays
// stopped after its execve, traced, until detached.
func (r *ProcessRuntime) start(ctx context.Context, spec ProcessSpec, hold bool) (*process, error) {
	if len(spec.Command) == 0 {
		return nil, errors.New("container has no command")
	}
	path, err := lookPath(spec.Command[0], envValue(spec.Env, "PATH"))
	if err != nil {
		return nil, err
	}
	cred, err := podCredential(spec.Container.GetSecurityContext(), r.podUser)
	if err != nil {
		return nil, err
	}
	if len(spec.SupplementalGroups) > 0 && os.Geteuid() == 0 {
		// The pod's supplementalGroups are its process's only extra
		// groups, as in a container.
		if cred == nil {
			cred = &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
		}
		cred.Groups, cred.NoSetGroups = nil, false
		for _, g := range spec.SupplementalGroups {
			id, err := credentialID("supplementalGroups", g)
			if err != nil {
				return nil, err
			}
			cred.Groups = append(cred.Groups, id)
		}
	}
	if cred != nil && cred.Uid != 0 && os.Geteuid() == 0 && spec.Dir != "" {
		// The agent made the directory; the pod must be able to write
		// in it.
		if err := os.Chown(spec.Dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("give working directory to uid %d: %w", cred.Uid, err)
		}
		if err := searchableBy(spec.Dir, cred.Uid, cred.Gid); err != nil {
			return nil, err
		}
	}
	var mounts []mount
	if len(spec.Container.GetVolumeMounts()) > 0 {
		switch {
		case len(r.mountExec) == 0:
			return nil, errors.New("this agent's process runtime mounts no volumes: give the pod runtimeClassName: docker")
		case os.Geteuid() != 0:
			return nil, fmt.Errorf("mounting volumes in a process pod needs an agent running as root (this one runs as uid %d): run the agent as root, or give the pod runtimeClassName: docker", os.Geteuid())
		}
		if mounts, err = podMounts(spec.Container, spec.Volumes); err != nil {
			return nil, err
		}
	}
	cmd := &exec.Cmd{
		Path:   path,
		Args:   spec.Command,
		Env:    spec.Env,
		Dir:    spec.Dir,
		Stdin:  nullStdin(),
		Stdout: spec.Stdout,
		Stderr: spec.Stdout,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    true,
			Pdeathsig:  syscall.SIGKILL,
			Credential: cred,
		},
		// Only matters when Stdout is not a file: a background child that
		// keeps the pipe open must not hold up Wait.
		WaitDelay: time.Second,
	}
	release := func() {}
	if mounts != nil {
		if release, err = r.throughMountExec(cmd, mounts, cred); err != nil {
			return nil, err
		}
	}
	var (
		cg         *cgroup
		cgroupPath string
		started    func(pid int) error
	)
	if r.cgroups != nil {
		cgroupPath = filepath.Join(r.cgroupParent, newCgroupName())
		if cg, err = r.startInCgroup(cmd, cgroupPath, spec); err != nil {
			release()
			return nil, err
		}
		switch {
		case !cg.v2:
			started = cg.enterAtExec
			if hold {
				started = cg.enterAndHold
			}
		case hold:
			cmd.SysProcAttr.Ptrace = true
			started = holdAtExec
		}
	}
	err = spawn(ctx, cmd, started)
	if cmd.SysProcAttr.UseCgroupFD {
		_ = syscall.Close(cmd.SysProcAttr.CgroupFD)
	}
	if err != nil {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if cg != nil {
			_ = cg.remove()
		}
		release()
		return nil, err
	}
	pid := cmd.Process.Pid
	id := processID(pid)
	var cgroupDirs []string
	if cg != nil {
		cgroupDirs = cg.paths
		id += "/" + cgroupPath
	}
	r.guard.watchRun(pid, cgroupDirs)
	return &process{cmd: cmd, pid: pid, id: id, guard: r.guard, cg: cg, release: release}, nil
}

// throughMountExec makes cmd start the mount shim in a new mount
// namespace, which mounts, becomes cred's user and execs what cmd would
// have; the mount points it needs exist until the returned release.
func (r *ProcessRuntime) throughMountExec(cmd *exec.Cmd, mounts []mount, cred *syscall.Credential) (func(), error) {
	m := mountExec{Mounts: mounts, Path: cmd.Path, Args: cmd.Args}
	if cred != nil {
		uid := cred.Uid
		m.UID, m.GID, m.Groups, m.KeepGroups = &uid, cred.Gid, cred.Groups, cred.NoSetGroups
	}
	arg, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var held []string
	release := func() {
		for _, t := range held {
			r.targets.release(t)
		}
	}
	for _, mt := range mounts {
		fi, err := os.Stat(mt.Source)
		if err != nil {
			release()
			return nil, fmt.Errorf("volume for %s: %w", mt.Target, err)
		}
		if err := r.targets.acquire(mt.Target, !fi.IsDir()); err != nil {
			release()
			return nil, err
		}
		held = append(held, mt.Target)
	}
	cmd.Path = r.mountExec[0]
	cmd.Args = append(slices.Clone(r.mountExec), string(arg))
	cmd.SysProcAttr.Credential = nil
	cmd.SysProcAttr.Unshareflags |= syscall.CLONE_NEWNS
	return release, nil
}

// startInCgroup creates the cgroup rel for one run, sets the container's
// limits on it and prepares cmd to start in it.
//
// On cgroup v2 the kernel puts the child into the cgroup as it forks it
// (clone3 with CLONE_INTO_CGROUP). Cgroup v1 has no such thing, and moving
// the child in after Start is racy: whatever it forks before the move
// stays outside, and a setsid child escapes for good. So on v1 the child
// is started traced: it stops right after execve, before the first
// instruction of its program; the spawner moves it into the cgroup and
// then lets it go (enterAtExec). Nothing runs outside the cgroup.
func (r *ProcessRuntime) startInCgroup(cmd *exec.Cmd, rel string, spec ProcessSpec) (*cgroup, error) {
	cpuMillis, memoryBytes, err := containerLimits(spec)
	if err != nil {
		return nil, err
	}
	cg, err := r.cgroups.create(rel, cpuMillis > 0, memoryBytes > 0)
	if err != nil {
		return nil, err
	}
	if err := cg.limit(cpuMillis, memoryBytes); err != nil {
		_ = cg.remove()
		return nil, err
	}
	if !cg.v2 {
		cmd.SysProcAttr.Ptrace = true
		return cg, nil
	}
	fd, err := syscall.Open(cg.paths[0], syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = cg.remove()
		return nil, fmt.Errorf("open cgroup %s: %w", cg.paths[0], err)
	}
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	return cg, nil
}

// containerLimits reads the CPU (millicores) and memory (bytes) limits of
// the container; zero means none.
func containerLimits(spec ProcessSpec) (cpuMillis, memoryBytes int64, err error) {
	limits := spec.Container.GetResources().GetLimits()
	if q, ok := limits["cpu"]; ok {
		if cpuMillis, err = api.ParseCPUMillis(q); err != nil {
			return 0, 0, fmt.Errorf("cpu limit: %w", err)
		}
	}
	if q, ok := limits["memory"]; ok {
		if memoryBytes, err = api.ParseBytes(q); err != nil {
			return 0, 0, fmt.Errorf("memory limit: %w", err)
		}
	}
	return cpuMillis, memoryBytes, nil
}

// cldTrapped is the siginfo code of a traced child that stopped.
const cldTrapped = 4

// enterAtExec takes a child started traced (SysProcAttr.Ptrace): it waits,
// without reaping, until the child stops after its execve, moves it into
// the cgroup and detaches from it, which lets it run. It runs on the
// spawner's thread, which is the tracer.
func (cg *cgroup) enterAtExec(pid int) error {
	if err := cg.enterCgroupStopped(pid); err != nil {
		return err
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return fmt.Errorf("let process %d run: %w", pid, err)
	}
	return nil
}

// enterAndHold is enterCgroupStopped for a child that stays stopped until
// Begin: should the agent die first, the kernel kills it (rather than
// detach it, which would let it run) before the guard gets to it.
func (cg *cgroup) enterAndHold(pid int) error {
	if err := cg.enterCgroupStopped(pid); err != nil {
		return err
	}
	return holdStopped(pid)
}

// holdAtExec is enterAndHold for a child that forked into its cgroup.
func holdAtExec(pid int) error {
	if err := waitExecStop(pid); err != nil {
		return err
	}
	return holdStopped(pid)
}

// holdStopped makes the kernel kill the stopped, traced child should the
// tracer die.
func holdStopped(pid int) error {
	if err := unix.PtraceSetOptions(pid, unix.PTRACE_O_EXITKILL); err != nil {
		return fmt.Errorf("hold process %d: %w", pid, err)
	}
	return nil
}

// enterCgroupStopped waits until the traced child stops after its execve
// and moves it into the cgroup, leaving it stopped and traced: detaching
// it (preparedProcess.Begin) lets it run.
func (cg *cgroup) enterCgroupStopped(pid int) error {
	if err := waitExecStop(pid); err != nil {
		return err
	}
	return cg.add(pid)
}

// waitExecStop waits, without reaping, until the traced child stops after
// its execve.
func waitExecStop(pid int) error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WSTOPPED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for process %d to start: %w", pid, err)
		}
		break
	}
	if info.Code != cldTrapped {
		return fmt.Errorf("process %d ended before it stopped at its exec", pid)
	}
	return nil
}

// KillOrphan kills the process group and the cgroup of a process started
// before the agent restarted. The parent-death signal killed the group
// leader, but its children (a `sleep` under `sh -c`) live on in the group,
// and in the cgroup those that left the group. The ID holds the boot and
// the leader's start time, so a group ID that the kernel has since given to
// an unrelated process is left alone.
func (r *ProcessRuntime) KillOrphan(id string) error {
	pid, boot, start, cgroupPath, err := parseProcessID(id)
	if err != nil {
		return err
	}
	if boot != bootID() {
		return nil
	}
	if cgroupPath != "" {
		if err := r.removeOrphanCgroup(cgroupPath); err != nil {
			return err
		}
	}
	if pgrp, started, err := procStat(pid); err == nil {
		if pgrp == pid && started == start {
			return killGroup(pid)
		}
		// The PID belongs to a newer process, so our group is gone: the
		// kernel does not reuse an ID while a group holds it.
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("kill orphan %d: %w", pid, err)
	}
	for _, e := range entries {
		member, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		pgrp, started, err := procStat(member)
		if err == nil && pgrp == pid && started >= start {
			return killGroup(pid)
		}
	}
	return nil
}

// removeOrphanCgroup kills everything in the cgroup rel of an earlier run
// and removes it. The agent may have restarted without cgroups, so it
// finds the hierarchies itself.
func (r *ProcessRuntime) removeOrphanCgroup(rel string) error {
	h := r.cgroups
	if h == nil {
		var err error
		if h, err = detectCgroups(r.cgroupRoot); err != nil {
			return fmt.Errorf("kill orphan cgroup %s: %w", rel, err)
		}
	}
	cg := &cgroup{v2: h.v2, paths: h.paths(rel)}
	if err := cg.remove(); err != nil {
		return fmt.Errorf("kill orphan: %w", err)
	}
	return nil
}

func killGroup(pgid int) error {
	if err := unix.Kill(-pgid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pgid, err)
	}
	return nil
}

type process struct {
	cmd   *exec.Cmd
	pid   int
	id    string
	guard *guard
	cg    *cgroup // nil without cgroups

	// release gives back what the run held beside its process (its mount
	// points), once, after it ended.
	release func()

	mu     sync.Mutex
	exited bool
	oom    bool
}

func (p *process) PID() int   { return p.pid }
func (p *process) ID() string { return p.id }

// OOMKilled reports whether the kernel killed a process of the run for
// going over its memory limit. It is meaningful once Wait has returned.
func (p *process) OOMKilled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.oom
}

func (p *process) Wait() (int, error) {
	// Wait until the main process has ended, but leave it unreaped: its
	// PID, and so its group ID, cannot be reused while the rest of the
	// run is killed.
	var info unix.Siginfo
	for errors.Is(unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil), unix.EINTR) {
	}
	p.mu.Lock()
	p.exited = true
	// Like a container, the run ends with its main process: background
	// children it left behind are killed.
	_ = unix.Kill(-p.pid, unix.SIGKILL)
	var cgErr error
	var cgroupDirs []string
	if p.cg != nil {
		// An OOM kill that ended the main process is counted by now;
		// the cgroup's files go with it.
		p.oom = p.cg.oomKills() > 0
		cgErr = p.cg.remove()
		cgroupDirs = p.cg.paths
	}
	p.guard.forgetRun(p.pid, cgroupDirs)
	oom := p.oom
	if p.release != nil {
		p.release()
		p.release = nil
	}
	p.mu.Unlock()
	err := p.cmd.Wait()
	state := p.cmd.ProcessState
	if state == nil {
		return -1, fmt.Errorf("wait for process %d: %w", p.pid, err)
	}
	if cgErr != nil {
		return state.ExitCode(), fmt.Errorf("end process %d: %w", p.pid, cgErr)
	}
	if oom {
		// Whichever process the kernel chose, the container ends as
		// killed by SIGKILL.
		return 128 + int(syscall.SIGKILL), nil
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return state.ExitCode(), fmt.Errorf("wait for process %d: %w", p.pid, err)
	}
	return state.ExitCode(), nil
}

// Signal sends sig to the process group; SIGKILL also reaches every
// process of the run's cgroup, those that left the group included.
func (p *process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return nil
	}
	if err := unix.Kill(-p.pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", p.pid, err)
	}
	if sig == syscall.SIGKILL && p.cg != nil {
		return p.cg.kill()
	}
	return nil
}

// lookPath finds name in the directories of path, as a shell would.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, name)
		if fi, err := os.Stat(candidate); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("executable file %q not found in $PATH", name)
}

// envValue returns the value of the last key=value entry of env.
func envValue(env []string, key string) string {
	value := ""
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			value = v
		}
	}
	return value
}

var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// processID names a run for KillOrphan: "PID/BOOT/START", followed by
// "/CGROUP" (the run's cgroup relative to the hierarchies' root) when it
// has one.
func processID(pid int) string {
	_, start, _ := procStat(pid)
	return fmt.Sprintf("%d/%s/%d", pid, bootID(), start)
}

func parseProcessID(id string) (pid int, boot string, start uint64, cgroupPath string, err error) {
	parts := strings.SplitN(id, "/", 4)
	if len(parts) < 3 {
		return 0, "", 0, "", fmt.Errorf("bad process id %q", id)
	}
	pid, err = strconv.Atoi(parts[0])
	if err != nil || pid <= 1 {
		return 0, "", 0, "", fmt.Errorf("bad process id %q", id)
	}
	start, err = strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return 0, "", 0, "", fmt.Errorf("bad process id %q: %w", id, err)
	}
	if len(parts) == 4 {
		if cgroupPath, err = cleanCgroupPath(parts[3]); err != nil || cgroupPath == "" {
			return 0, "", 0, "", fmt.Errorf("bad process id %q: bad cgroup", id)
		}
	}
	return pid, parts[1], start, cgroupPath, nil
}

// procStat reads a process's group and start time (clock ticks since boot)
// from /proc/<pid>/stat.
func procStat(pid int) (pgrp int, start uint64, err error) {
	b, err := readSmallFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name in parentheses may contain spaces; the fields
	// after it are fixed: state is field 3, pgrp 5, starttime 22.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	pgrp, err = strconv.Atoi(fields[2])
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return pgrp, start, nil
}
