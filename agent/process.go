package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ProcessRuntime runs containers as plain processes of this machine, each
// in its own process group and with SIGKILL as its parent-death signal.
// With the agent's guard, the children those processes start die with the
// agent too.
type ProcessRuntime struct {
	guard *guard
}

// NewProcessRuntime returns the process runtime.
func NewProcessRuntime() *ProcessRuntime { return &ProcessRuntime{} }

// useGuard makes the guard kill the pods' process groups should the agent
// die. The agent calls it once, before the first Start.
func (r *ProcessRuntime) useGuard(g *guard) { r.guard = g }

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce  sync.Once
	spawnQueue chan spawnRequest
)

// spawner starts every pod process of this agent process. The kernel sends
// the parent-death signal when the OS thread that forked the child exits,
// not the process, so all forks happen on one thread that stays locked to
// this goroutine, which never returns.
func spawner(reqs <-chan spawnRequest) {
	runtime.LockOSThread()
	for req := range reqs {
		req.done <- req.cmd.Start()
	}
}

func spawn(ctx context.Context, cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnQueue = make(chan spawnRequest)
		go spawner(spawnQueue)
	})
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
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
	if len(spec.Command) == 0 {
		return nil, errors.New("container has no command")
	}
	path, err := lookPath(spec.Command[0], envValue(spec.Env, "PATH"))
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        spec.Command,
		Env:         spec.Env,
		Dir:         spec.Dir,
		Stdout:      spec.Stdout,
		Stderr:      spec.Stdout,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		// Only matters when Stdout is not a file: a background child that
		// keeps the pipe open must not hold up Wait.
		WaitDelay: time.Second,
	}
	if err := spawn(ctx, cmd); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	r.guard.watch(pid)
	return &process{cmd: cmd, pid: pid, id: processID(pid), guard: r.guard}, nil
}

// KillOrphan kills the process group of a process started before the agent
// restarted. The parent-death signal killed the group leader, but its
// children (a `sleep` under `sh -c`) live on in the group. The ID holds the
// boot and the leader's start time, so a group ID that the kernel has since
// given to an unrelated process is left alone.
func (r *ProcessRuntime) KillOrphan(id string) error {
	pid, boot, start, err := parseProcessID(id)
	if err != nil {
		return err
	}
	if boot != bootID() {
		return nil
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

	mu     sync.Mutex
	exited bool
}

func (p *process) PID() int   { return p.pid }
func (p *process) ID() string { return p.id }

func (p *process) Wait() (int, error) {
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exited = true
	// Like a container, the group ends with its main process: background
	// children it left behind are killed.
	_ = unix.Kill(-p.pid, unix.SIGKILL)
	p.guard.forget(p.pid)
	p.mu.Unlock()
	state := p.cmd.ProcessState
	if state == nil {
		return -1, fmt.Errorf("wait for process %d: %w", p.pid, err)
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

func (p *process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return nil
	}
	if err := unix.Kill(-p.pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", p.pid, err)
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

func processID(pid int) string {
	_, start, _ := procStat(pid)
	return fmt.Sprintf("%d/%s/%d", pid, bootID(), start)
}

func parseProcessID(id string) (pid int, boot string, start uint64, err error) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return 0, "", 0, fmt.Errorf("bad process id %q", id)
	}
	pid, err = strconv.Atoi(parts[0])
	if err != nil || pid <= 1 {
		return 0, "", 0, fmt.Errorf("bad process id %q", id)
	}
	start, err = strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return 0, "", 0, fmt.Errorf("bad process id %q: %w", id, err)
	}
	return pid, parts[1], start, nil
}

// procStat reads a process's group and start time (clock ticks since boot)
// from /proc/<pid>/stat.
func procStat(pid int) (pgrp int, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
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
