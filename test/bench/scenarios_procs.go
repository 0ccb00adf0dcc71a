package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// proc is what /proc/PID/stat says about a process.
type proc struct {
	pid, ppid, pgrp int
	state           string
}

// readProc reads /proc/PID/stat.
func readProc(pid int) (proc, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, err
	}
	// The command in parentheses may hold spaces; fields after it are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return proc{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return proc{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	if err := errors.Join(err1, err2); err != nil {
		return proc{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return proc{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0]}, nil
}

// procs lists every live (not zombie) process of the machine.
func procs() []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readProc(pid); err == nil && p.state != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// descendants lists the live processes below pid.
func descendants(pid int) []proc {
	children := map[int][]proc{}
	for _, p := range procs() {
		children[p.ppid] = append(children[p.ppid], p)
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range children[next] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}

// rssMiB is a process's resident set size in MiB (VmRSS).
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read rss of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				return 0, fmt.Errorf("read rss of %d: %w", pid, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("read rss of %d: no VmRSS", pid)
}

// isGuard tells whether the process is an agent's guard (`jobcluster
// agent-guard`).
func isGuard(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) > 1 && args[1] == "agent-guard"
}

// clockTick is the unit of /proc CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTimes reads a process's CPU time and that of its reaped children.
func cpuTimes(pid int) (self, children time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read cpu of %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	var ticks [4]int64
	for k := range ticks {
		if ticks[k], err = strconv.ParseInt(f[11+k], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
		}
	}
	return time.Duration(ticks[0]+ticks[1]) * clockTick, time.Duration(ticks[2]+ticks[3]) * clockTick, nil
}

// machineCPU reads the busy and total CPU time of the whole machine.
func machineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, errors.New("parse /proc/stat")
	}
	var sum, idle int64
	for k, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse /proc/stat: %w", err)
		}
		// guest time is already counted in user time.
		if k < 8 {
			sum += n
		}
		if k == 3 || k == 4 { // idle, iowait
			idle += n
		}
	}
	return time.Duration(sum-idle) * clockTick, time.Duration(sum) * clockTick, nil
}

// cpuUse is the CPU the cluster's processes and the whole machine had used
// at one moment.
type cpuUse struct {
	servers, agents, pods time.Duration
	// guards is the CPU of the agents' guards, which run as long as
	// their agents: it is in no agent's reaped children until then.
	guards             time.Duration
	bench              time.Duration
	machineBusy, total time.Duration
}

// readCPU samples the CPU used so far. Nodes restarted in between would
// skew a difference, so it is used only where none is.
func (c *cluster) readCPU() (cpuUse, error) {
	var u cpuUse
	for _, nodes := range []struct {
		list     []*node
		self, ch *time.Duration
	}{{c.servers, &u.servers, &u.servers}, {c.agents, &u.agents, &u.pods}} {
		for _, n := range nodes.list {
			self, children, err := cpuTimes(n.pid())
			if err != nil {
				return u, err
			}
			*nodes.self += self
			*nodes.ch += children
		}
	}
	for _, n := range c.agents {
		for _, p := range descendants(n.pid()) {
			if !isGuard(p.pid) {
				continue
			}
			self, children, err := cpuTimes(p.pid)
			if err != nil {
				return u, err
			}
			u.guards += self + children
		}
	}
	self, children, err := cpuTimes(os.Getpid())
	if err != nil {
		return u, err
	}
	u.bench = self + children
	u.machineBusy, u.total, err = machineCPU()
	return u, err
}

// addCPU records, per unit of work done between two samples, the CPU the
// servers, the agents and the pods' processes used, and how busy the
// machine was with other work, which skews every figure of the run.
func (e *env) addCPU(before, after cpuUse, units float64, unit string) {
	per := func(d time.Duration) float64 { return millis(d) / units }
	e.add(fmt.Sprintf("CPU per %s: 3 servers", unit), "ms", per(after.servers-before.servers))
	e.add(fmt.Sprintf("CPU per %s: 3 agents", unit), "ms", per(after.agents-before.agents))
	e.add(fmt.Sprintf("CPU per %s: the agents' guards", unit), "ms", per(after.guards-before.guards))
	e.add(fmt.Sprintf("CPU per %s: pod processes", unit), "ms", per(after.pods-before.pods))
	ours := (after.servers - before.servers) + (after.agents - before.agents) + (after.guards - before.guards) +
		(after.pods - before.pods) + (after.bench - before.bench)
	if total := after.total - before.total; total > 0 {
		others := after.machineBusy - before.machineBusy - ours
		e.add("machine CPU used by other work", "%", 100*float64(max(others, 0))/float64(total))
	}
}

// writeBytes is how many bytes a process has caused to be written to
// storage so far (write_bytes of /proc/PID/io): its Raft log and
// snapshots, and its own log file.
func writeBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, fmt.Errorf("read io of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read io of %d: %w", pid, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("read io of %d: no write_bytes", pid)
}

// dirBytes is the size of the regular files under dir. Files removed
// while it walks (an old snapshot) are skipped.
func dirBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return total, nil
}

// raftDir is where a server keeps its Raft log (raft.db) and snapshots.
func (n *node) raftDir() string { return filepath.Join(n.dataDir, "raft") }

// mib converts bytes to MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }

// cpuSeconds is the CPU time (user and system) process pid has used.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu of %d: %w", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil
}
