package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The guard is one small process per agent that outlives it by a moment:
// the agent tells it, through a pipe, which process groups, cgroups and
// containers its pods run in; when the pipe reaches end of file because the
// agent died (however it died), the guard kills those groups and everything
// in those cgroups, removes those cgroups and containers, and exits. The parent-death signal
// alone only reaches a pod's main process, not the children it started
// (the `sleep` under `sh -c`), which would otherwise run on while the
// servers start the pod again elsewhere.

// guardExitTimeout bounds how long a stopping agent waits for the guard to
// kill what is left and exit before it kills the guard.
const guardExitTimeout = 5 * time.Second

// guard is the agent's end of the pipe. It owns the goroutine that waits
// for the guard process, and close waits for that goroutine.
type guard struct {
	mu     sync.Mutex
	w      *os.File
	cmd    *exec.Cmd
	exited chan struct{} // closed once the guard process has been reaped
	// exitTimeout is guardExitTimeout, shorter in tests.
	exitTimeout time.Duration
}

// startGuard starts command (the guard process) with a pipe as its stdin.
func startGuard(command []string) (*guard, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start pod guard: %w", err)
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin = r
	cmd.Stderr = os.Stderr
	// Its own group: a Ctrl-C meant for the agent must not kill the guard
	// before the agent is gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start pod guard %s: %w", command[0], err)
	}
	r.Close()
	g := &guard{w: w, cmd: cmd, exited: make(chan struct{}), exitTimeout: guardExitTimeout}
	go func() {
		defer close(g.exited)
		// The exit status says nothing the agent could act on: a guard
		// that died early only means pods lose that protection.
		_ = cmd.Wait()
	}()
	return g, nil
}

// send writes lines to the guard in one write, so that what one start or
// end tells it costs one system call and wakes the guard once.
func (g *guard) send(lines ...string) {
	if g == nil {
		return
	}
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	buf := make([]byte, 0, n)
	for _, l := range lines {
		buf = append(append(buf, l...), '\n')
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w != nil {
		_, _ = g.w.Write(buf)
	}
}

// watchRun asks the guard to kill the process group pgid, and every
// process in the cgroups at cgroupDirs (removing them), should the agent
// die.
func (g *guard) watchRun(pgid int, cgroupDirs []string) {
	lines := []string{"+" + strconv.Itoa(pgid)}
	for _, dir := range cgroupDirs {
		lines = append(lines, "+g"+dir)
	}
	g.send(lines...)
}

// forgetRun tells the guard the run's cgroups are gone and its group
// ended.
func (g *guard) forgetRun(pgid int, cgroupDirs []string) {
	lines := make([]string, 0, len(cgroupDirs)+1)
	for _, dir := range cgroupDirs {
		lines = append(lines, "-g"+dir)
	}
	g.send(append(lines, "-"+strconv.Itoa(pgid))...)
}

// WatchContainer asks the guard to remove container id should the agent
// die. A nil guard does nothing.
func (g *guard) WatchContainer(id string) { g.send("+c" + id) }

// leaseLeft tells the guard how long the agent's lease has left: should
// that pass with no newer word, the guard kills what it watches.
func (g *guard) leaseLeft(d time.Duration) {
	if d > 0 {
		g.send("+l" + strconv.FormatInt(int64(d), 10))
	}
}

// ForgetContainer tells the guard the container ended.
func (g *guard) ForgetContainer(id string) { g.send("-c" + id) }

// identify tells the guard the node it guards and the agent process's
// incarnation: what it names when it tells the servers it stopped them.
func (g *guard) identify(node, incarnation string) {
	g.send("+n"+node, "+i"+incarnation)
}

// serversAre tells the guard the servers' RPC addresses as gossip knows
// them now.
func (g *guard) serversAre(addrs []string) { g.send("=s" + strings.Join(addrs, ",")) }

// StopNotifier tells the servers, once the guard of a dead agent killed
// every pod it knew of, that node's agent process incarnation is gone and
// its pods with it; it returns once one server took the notice.
type StopNotifier func(ctx context.Context, servers []string, node, incarnation string) error

// notifyTimeout bounds how long a guard tries to tell the servers, and so
// does the lease the agent last reported, after which they act anyway.
const notifyTimeout = 10 * time.Second

// groupExitTimeout bounds how long a guard waits for killed process
// groups to exit before it tells the servers.
const groupExitTimeout = 2 * time.Second

// AgentGone waits, at most timeout, until the guard's parent, the agent
// whose process ID was parent, is gone: the kernel then hands the guard
// to another parent. The end of the guard's input alone does not prove
// the agent died, and the servers must only be told when it did.
func AgentGone(parent int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for os.Getppid() == parent {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// groupsExited waits, at most timeout, until no process of the groups
// runs: each has exited (a zombie waiting to be reaped runs nothing).
func groupsExited(groups map[int]bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !anyRunsIn(groups) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// anyRunsIn tells whether a process of one of the groups has not exited
// (a zombie waiting for its reaper runs nothing).
func anyRunsIn(groups map[int]bool) bool {
	if len(groups) == 0 {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// State is the first field after the command name in
		// parentheses, the process group the third.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if pgrp, err := strconv.Atoi(f[2]); err == nil && groups[pgrp] {
			return true
		}
	}
	return false
}

// ContainerGuard is what a container runtime tells the agent's guard: the
// containers to remove should the agent die.
type ContainerGuard interface {
	WatchContainer(id string)
	ForgetContainer(id string)
}

// GuardedRuntime is a container runtime whose containers the agent's guard
// removes should the agent die; the agent hands it the guard before the
// first Start.
type GuardedRuntime interface {
	SetGuard(ContainerGuard)
}

// close lets the guard exit, after it killed any group still listed, and
// waits until it has; a guard that does not exit within guardExitTimeout
// is killed.
func (g *guard) close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	if g.w != nil {
		// The agent stops on purpose, its pods stopped and reported:
		// nothing for the guard to tell the servers.
		fmt.Fprintln(g.w, "+q")
		g.w.Close()
		g.w = nil
	}
	g.mu.Unlock()
	select {
	case <-g.exited:
	case <-time.After(g.exitTimeout):
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
}

// RunGuard is the guard process's main loop: it reads "+PGID" and "-PGID"
// lines, "+gDIR" and "-gDIR" for cgroups (DIR is the cgroup's directory),
// "+cID" and "-cID" for containers, and "+lNANOS", the time the agent's
// lease has left, until end of input, then kills every process group
// still listed and every process in each cgroup still listed, removes
// those cgroups, and hands the containers still listed to
// removeContainers (which may be nil when no runtime runs containers).
// "+nNODE", "+iINCARNATION" and "=sADDR,ADDR..." name the node, the agent
// process and the servers for notify; "+q" says the agent is stopping on
// purpose and there is nothing to tell them.
//
// The lease line fences an agent that cannot fence itself: frozen
// (SIGSTOP, a stalled VM, a long pause) it renews nothing, and once the
// time it last reported has passed without another report the guard
// kills everything listed, as at end of input, and goes on reading. The
// servers replace the pods only after that time. The guard process should
// ignore SIGINT and SIGTERM, which are meant for the agent (see
// IgnoreAgentSignals).
//
// When the input ends and everything listed was killed, notify, if not
// nil, tells the servers, so they fail the node's pods at once rather than
// when its lease expires: the agent is gone and so are its pods.
func RunGuard(in io.Reader, removeContainers func(ids []string) error, notify StopNotifier) error {
	return runGuard(in, removeContainers, notify, func(msg string) { fmt.Fprintln(os.Stderr, msg) })
}

// guarded is what the guard would kill: process groups, cgroups and
// containers.
type guarded struct {
	groups     map[int]bool
	containers map[string]bool
	cgroups    map[string]bool
}

func (g *guarded) count() int { return len(g.groups) + len(g.containers) + len(g.cgroups) }

func runGuard(in io.Reader, removeContainers func(ids []string) error, notify StopNotifier, report func(string)) error {
	g := &guarded{groups: map[int]bool{}, containers: map[string]bool{}, cgroups: map[string]bool{}}
	var node, incarnation string
	var servers []string
	var leaseEnds time.Time // as the agent last reported it
	quiet := false
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	lease := time.NewTimer(time.Hour)
	lease.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				if err := g.kill(removeContainers); err != nil {
					// Something may still run: the servers wait for the
					// lease.
					return err
				}
				if quiet || notify == nil || node == "" || incarnation == "" || len(servers) == 0 {
					return nil
				}
				// A SIGKILL is delivered, not yet obeyed, when kill
				// returns; cgroups and containers were waited for.
				if !groupsExited(g.groups, groupExitTimeout) {
					report("agent-guard: the agent died and its pods were killed, but some have not exited yet: the servers will wait for the lease")
					return nil
				}
				// Once the lease ran out the servers act without the
				// notice: trying longer only keeps this process around.
				ctx, cancel := context.WithTimeout(context.Background(), min(notifyTimeout, max(time.Until(leaseEnds), time.Second)))
				defer cancel()
				if err := notify(ctx, servers, node, incarnation); err != nil {
					report(fmt.Sprintf("agent-guard: the agent's pods were killed at the end of its input, and the servers were not told (they wait for the lease): %v", err))
				}
				return nil
			}
			line = strings.TrimSpace(line)
			if line == "+q" {
				quiet = true
				continue
			}
			if v, ok := strings.CutPrefix(line, "+n"); ok {
				node = v
				continue
			}
			if v, ok := strings.CutPrefix(line, "+i"); ok {
				incarnation = v
				continue
			}
			if v, ok := strings.CutPrefix(line, "=s"); ok {
				servers = nil
				if v != "" {
					servers = strings.Split(v, ",")
				}
				continue
			}
			if left, ok := strings.CutPrefix(line, "+l"); ok {
				if d, err := strconv.ParseInt(left, 10, 64); err == nil && d > 0 {
					lease.Reset(time.Duration(d))
					leaseEnds = time.Now().Add(time.Duration(d))
				}
				continue
			}
			g.apply(line)
		case <-lease.C:
			if n := g.count(); n > 0 {
				err := g.kill(removeContainers)
				report(fmt.Sprintf("agent-guard: the agent's lease ran out without a renewal: killed %d process groups, cgroups and containers (%v)", n, err))
				g.groups, g.containers, g.cgroups = map[int]bool{}, map[string]bool{}, map[string]bool{}
			}
		}
	}
}

// apply records one "+" or "-" line.
func (g *guarded) apply(line string) {
	line = strings.TrimSpace(line)
	if len(line) < 2 {
		return
	}
	if id, ok := strings.CutPrefix(line[1:], "c"); ok {
		listOrForget(g.containers, line[0], id)
		return
	}
	if dir, ok := strings.CutPrefix(line[1:], "g"); ok {
		// Only an absolute path names a cgroup; anything else could be a
		// directory relative to wherever the guard runs.
		if filepath.IsAbs(dir) {
			listOrForget(g.cgroups, line[0], filepath.Clean(dir))
		}
		return
	}
	pgid, err := strconv.Atoi(line[1:])
	if err != nil || pgid <= 1 {
		return
	}
	switch line[0] {
	case '+':
		g.groups[pgid] = true
	case '-':
		delete(g.groups, pgid)
	}
}

// kill kills every process group listed and every process in each cgroup
// listed, removes those cgroups, and hands the containers listed to
// removeContainers.
func (g *guarded) kill(removeContainers func(ids []string) error) error {
	var errs []error
	for pgid := range g.groups {
		if err := unix.Kill(-pgid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kill process group %d: %w", pgid, err))
		}
	}
	for dir := range g.cgroups {
		if err := killCgroupDir(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := removeCgroupDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(g.containers) > 0 {
		ids := make([]string, 0, len(g.containers))
		for id := range g.containers {
			ids = append(ids, id)
		}
		switch {
		case removeContainers == nil:
			errs = append(errs, fmt.Errorf("remove containers %v: no container runtime", ids))
		default:
			if err := removeContainers(ids); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// listOrForget adds key to set for a '+' line and removes it for a '-'
// line; an empty key names nothing.
func listOrForget(set map[string]bool, op byte, key string) {
	switch {
	case key == "":
	case op == '+':
		set[key] = true
	case op == '-':
		delete(set, key)
	}
}

// IgnoreAgentSignals makes the calling process (the guard) ignore the
// signals that stop an agent, so it outlives the agent it watches. Only
// the guard process may call it: ignored signals are inherited by every
// process it would start.
func IgnoreAgentSignals() {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
}
