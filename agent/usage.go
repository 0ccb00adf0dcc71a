package agent

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// usageWindow is how often the agent measures what the node and its pods
// use; top shows the average CPU over the last window, as metrics-server
// shows it over its own.
const usageWindow = 5 * time.Second

// clockTicks is USER_HZ, the unit of CPU times in /proc: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// usageSample is one reading of cumulative CPU time and current memory.
type usageSample struct {
	at       time.Time
	cpuNanos uint64
	memBytes int64
}

// podUsageSource is what the meter needs of one running pod.
type podUsageSource struct {
	uid, namespace, name string
	pids                 []int
}

// usageMeter turns successive readings into rates. It is used by one
// goroutine.
type usageMeter struct {
	procRoot, cgroupRoot string
	node                 string
	prevNode             usageSample
	prevPods             map[string]usageSample // by pod UID
	// groups is the CPU and memory of every process group, read once per
	// measurement for the pods that have no cgroup of their own.
	groups map[string]usageSample
}

func newUsageMeter(node string) *usageMeter {
	return &usageMeter{procRoot: "/proc", cgroupRoot: "/sys/fs/cgroup", node: node, prevPods: map[string]usageSample{}}
}

// measure reads the node and the pods now and returns their usage over
// the time since the last call, or nil on the first call. A pod measured
// for the first time is left out until its second reading.
func (m *usageMeter) measure(now time.Time, pods []podUsageSource) *api.NodeUsage {
	own := readCgroups(m.procRoot, "self")
	m.groups = nil
	cur := map[string]usageSample{}
	var out []*api.PodUsage
	for _, p := range pods {
		s, ok := m.readPod(own, p.pids)
		if !ok {
			continue
		}
		s.at = now
		cur[p.uid] = s
		if prev, seen := m.prevPods[p.uid]; seen {
			out = append(out, &api.PodUsage{Namespace: p.namespace, Name: p.name,
				CpuMillicores: millicores(prev, s), MemoryBytes: s.memBytes})
		}
	}
	m.prevPods = cur
	node, ok := m.readNode()
	if !ok {
		return nil
	}
	node.at = now
	prev := m.prevNode
	m.prevNode = node
	if prev.at.IsZero() {
		return nil
	}
	return &api.NodeUsage{
		Node:          m.node,
		Timestamp:     timestamppb.New(now),
		WindowMillis:  now.Sub(prev.at).Milliseconds(),
		CpuMillicores: millicores(prev, node),
		MemoryBytes:   node.memBytes,
		Pods:          out,
	}
}

// millicores is the average CPU between two readings, in thousandths of
// a core.
func millicores(prev, cur usageSample) int64 {
	elapsed := cur.at.Sub(prev.at)
	if elapsed <= 0 || cur.cpuNanos < prev.cpuNanos {
		return 0
	}
	return int64(float64(cur.cpuNanos-prev.cpuNanos) / float64(elapsed.Nanoseconds()) * 1000)
}

// readNode reads the whole machine: CPU time not idle from /proc/stat and
// memory in use (MemTotal - MemAvailable) from /proc/meminfo.
func (m *usageMeter) readNode() (usageSample, bool) {
	stat, err := readSmallFile(filepath.Join(m.procRoot, "stat"))
	if err != nil {
		return usageSample{}, false
	}
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return usageSample{}, false
	}
	var busy uint64
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		// idle and iowait are the 4th and 5th; guest time is counted
		// in user time already.
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += n
	}
	info, err := readSmallFile(filepath.Join(m.procRoot, "meminfo"))
	if err != nil {
		return usageSample{}, false
	}
	kb := map[string]int64{}
	for _, l := range strings.Split(string(info), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			kb[k] = n
		}
	}
	return usageSample{cpuNanos: busy * (1e9 / clockTicks), memBytes: (kb["MemTotal"] - kb["MemAvailable"]) * 1024}, true
}

// readPod reads what one pod's containers use: from the cgroup of each
// container's process when it has one of its own (a cgroup v2 group, or
// the v1 cpuacct and memory groups a container runtime makes), else by
// adding up the processes of its cgroup or process group. The working
// set is memory in use less inactive file cache, as kubelet reports it.
func (m *usageMeter) readPod(own map[string]string, pids []int) (usageSample, bool) {
	var total usageSample
	found := false
	seen := map[string]bool{}
	for _, pid := range pids {
		cg := readCgroups(m.procRoot, strconv.Itoa(pid))
		if cg == nil {
			continue
		}
		found = true
		cpuDone, memDone := false, false
		if path, ok := cg[""]; ok && path != own[""] {
			dir := v2Dir(m.cgroupRoot, path)
			if !seen[dir] {
				seen[dir] = true
				if usec, ok := statField(filepath.Join(dir, "cpu.stat"), "usage_usec"); ok {
					total.cpuNanos += usec * 1000
					cpuDone = true
				}
				if cur, ok := readInt(filepath.Join(dir, "memory.current")); ok {
					inactive, _ := statField(filepath.Join(dir, "memory.stat"), "inactive_file")
					total.memBytes += max(cur-int64(inactive), 0)
					memDone = true
				}
			} else {
				cpuDone, memDone = true, true
			}
		}
		if path, ok := cg["cpuacct"]; ok && !cpuDone && path != own["cpuacct"] {
			if dir := v1Dir(m.cgroupRoot, "cpuacct", path); dir != "" {
				if seen[dir] {
					cpuDone = true
				} else if n, ok := readInt(filepath.Join(dir, "cpuacct.usage")); ok {
					seen[dir] = true
					total.cpuNanos += uint64(n)
					cpuDone = true
				}
			}
		}
		if path, ok := cg["memory"]; ok && !memDone && path != own["memory"] {
			if dir := v1Dir(m.cgroupRoot, "memory", path); dir != "" {
				if seen[dir] {
					memDone = true
				} else if n, ok := readInt(filepath.Join(dir, "memory.usage_in_bytes")); ok {
					seen[dir] = true
					inactive, _ := statField(filepath.Join(dir, "memory.stat"), "total_inactive_file")
					total.memBytes += max(n-int64(inactive), 0)
					memDone = true
				}
			}
		}
		if cpuDone && memDone {
			continue
		}
		cpu, mem := m.readProcesses(cg, own, pid)
		if !cpuDone {
			total.cpuNanos += cpu
		}
		if !memDone {
			total.memBytes += mem
		}
	}
	return total, found
}

// readProcesses adds up the CPU time and resident memory of the
// processes of pid's freezer cgroup when it has its own (process pods on
// cgroup v1), else of pid's process group.
func (m *usageMeter) readProcesses(cg, own map[string]string, pid int) (uint64, int64) {
	if path, ok := cg["freezer"]; ok && path != own["freezer"] {
		if dir := v1Dir(m.cgroupRoot, "freezer", path); dir != "" {
			if b, err := readSmallFile(filepath.Join(dir, "cgroup.procs")); err == nil {
				var total usageSample
				for _, f := range strings.Fields(string(b)) {
					if s, _, ok := m.readStat(f); ok {
						total.cpuNanos += s.cpuNanos
						total.memBytes += s.memBytes
					}
				}
				return total.cpuNanos, total.memBytes
			}
		}
	}
	if m.groups == nil {
		// Every process group at once: one pass over /proc however many
		// pods need it.
		m.groups = map[string]usageSample{}
		entries, _ := os.ReadDir(m.procRoot)
		for _, e := range entries {
			if e.Name()[0] < '0' || e.Name()[0] > '9' {
				continue
			}
			if s, group, ok := m.readStat(e.Name()); ok {
				g := m.groups[group]
				g.cpuNanos += s.cpuNanos
				g.memBytes += s.memBytes
				m.groups[group] = g
			}
		}
	}
	g := m.groups[strconv.Itoa(pid)]
	return g.cpuNanos, g.memBytes
}

// readStat reads the CPU time and resident memory of one process from
// /proc/PID/stat, and its process group.
func (m *usageMeter) readStat(pid string) (usageSample, string, bool) {
	b, err := readSmallFile(filepath.Join(m.procRoot, pid, "stat"))
	if err != nil {
		return usageSample{}, "", false
	}
	// The command may hold spaces and parentheses: fields start after the
	// last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return usageSample{}, "", false
	}
	f := strings.Fields(string(b[i+1:]))
	// state ppid pgrp ... utime(11) stime(12) ... rss(21), counted from the
	// state field at 0.
	if len(f) < 22 {
		return usageSample{}, "", false
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	return usageSample{cpuNanos: (ut + st) * (1e9 / clockTicks), memBytes: rss * int64(os.Getpagesize())}, f[2], true
}

// readCgroups reads /proc/PID/cgroup: the path of each v1 controller by
// name, and the v2 path under "".
func readCgroups(procRoot, pid string) map[string]string {
	f, err := os.Open(filepath.Join(procRoot, pid, "cgroup"))
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// v2Dir returns the directory of the v2 cgroup path: under root, or under
// the v2 hierarchy of a hybrid mount beside v1 ones.
func v2Dir(root, path string) string {
	if unified := filepath.Join(root, hybridUnified); fileExists(filepath.Join(unified, "cgroup.procs")) {
		return filepath.Join(unified, path)
	}
	return filepath.Join(root, path)
}

// v1Dir finds the directory of a v1 controller's group: the controller
// may be mounted alone or beside others ("cpu,cpuacct").
func v1Dir(root, controller, path string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		for _, c := range strings.Split(e.Name(), ",") {
			if c == controller {
				dir := filepath.Join(root, e.Name(), path)
				if _, err := os.Stat(dir); err == nil {
					return dir
				}
			}
		}
	}
	return ""
}

func readInt(path string) (int64, bool) {
	b, err := readSmallFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// statField reads one "key value" line of a cgroup stat file.
func statField(path, key string) (uint64, bool) {
	b, err := readSmallFile(path)
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// measureUsage measures the node and its running pods every usageWindow
// and hands each measurement to send.
func measureUsage(ctx context.Context, node string, pods func() []podUsageSource, send func(*api.NodeUsage)) {
	m := newUsageMeter(node)
	t := time.NewTicker(usageWindow)
	defer t.Stop()
	m.measure(time.Now(), pods())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if u := m.measure(time.Now(), pods()); u != nil {
				send(u)
			}
		}
	}
}
