package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeTree writes files under root, by relative path.
func fakeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// procStat is a /proc/PID/stat line with the given group, CPU ticks and
// resident pages.
func fakeProcStat(pid, pgrp, utime, stime, rss string) string {
	return pid + " (sh (x)) S 1 " + pgrp + " 0 0 0 0 0 0 0 0 " + utime + " " + stime + " 0 0 20 0 1 0 0 0 " + rss + " 0\n"
}

func TestUsageMeterReadsEachKindOfPod(t *testing.T) {
	page := int64(os.Getpagesize())
	tests := []struct {
		name    string
		files   map[string]string
		pids    []int
		cpu     uint64 // nanoseconds
		mem     int64
		visible bool
	}{
		{
			name: "container: v1 cpuacct and memory groups of its own",
			files: map[string]string{
				"proc/self/cgroup":                           "4:memory:/agent\n3:cpu,cpuacct:/agent\n",
				"proc/10/cgroup":                             "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
				"cg/cpu,cpuacct/docker/abc/cpuacct.usage":    "2500000000\n",
				"cg/memory/docker/abc/memory.usage_in_bytes": "50000000\n",
				"cg/memory/docker/abc/memory.stat":           "cache 100\ntotal_inactive_file 10000000\n",
				"proc/11/cgroup":                             "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
			},
			pids: []int{10, 11}, cpu: 2500000000, mem: 40000000, visible: true,
		},
		{
			name: "cgroup v2 group of its own",
			files: map[string]string{
				"proc/self/cgroup":                "0::/agent\n",
				"proc/10/cgroup":                  "0::/agent/pods/p1\n",
				"cg/agent/pods/p1/cpu.stat":       "usage_usec 1500000\nuser_usec 1000000\n",
				"cg/agent/pods/p1/memory.current": "30000000\n",
				"cg/agent/pods/p1/memory.stat":    "anon 1\ninactive_file 5000000\n",
			},
			pids: []int{10}, cpu: 1500000000, mem: 25000000, visible: true,
		},
		{
			name: "v1 freezer group only: its processes added up",
			files: map[string]string{
				"proc/self/cgroup":                      "5:freezer:/\n4:memory:/\n3:cpu,cpuacct:/\n",
				"proc/10/cgroup":                        "5:freezer:/jobcluster/p1\n4:memory:/\n3:cpu,cpuacct:/\n",
				"cg/freezer/jobcluster/p1/cgroup.procs": "10\n12\n",
				"proc/10/stat":                          fakeProcStat("10", "10", "100", "50", "100"),
				"proc/12/stat":                          fakeProcStat("12", "12", "30", "20", "50"),
				"proc/13/stat":                          fakeProcStat("13", "10", "999", "999", "999"),
			},
			pids: []int{10}, cpu: 200 * 1e7, mem: 150 * page, visible: true,
		},
		{
			name: "no group of its own: its process group added up",
			files: map[string]string{
				"proc/self/cgroup": "0::/\n",
				"proc/10/cgroup":   "0::/\n",
				"proc/10/stat":     fakeProcStat("10", "10", "100", "0", "10"),
				"proc/13/stat":     fakeProcStat("13", "10", "50", "50", "20"),
				"proc/14/stat":     fakeProcStat("14", "14", "999", "999", "999"),
			},
			pids: []int{10}, cpu: 200 * 1e7, mem: 30 * page, visible: true,
		},
		{
			name:  "the process is gone",
			files: map[string]string{"proc/self/cgroup": "0::/\n"},
			pids:  []int{10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			fakeTree(t, root, tt.files)
			m := &usageMeter{procRoot: filepath.Join(root, "proc"), cgroupRoot: filepath.Join(root, "cg")}
			got, ok := m.readPod(readCgroups(m.procRoot, "self"), tt.pids)
			if ok != tt.visible || got.cpuNanos != tt.cpu || got.memBytes != tt.mem {
				t.Errorf("got cpu %d ns, memory %d, found %v; want %d ns, %d, %v", got.cpuNanos, got.memBytes, ok, tt.cpu, tt.mem, tt.visible)
			}
		})
	}
}

func TestUsageMeterGivesRatesFromTheSecondReading(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"proc/self/cgroup":          "0::/agent\n",
		"proc/10/cgroup":            "0::/pods/p1\n",
		"cg/pods/p1/cpu.stat":       "usage_usec 1000000\n",
		"cg/pods/p1/memory.current": "1048576\n",
		"proc/stat":                 "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 1 1 1\n",
		"proc/meminfo":              "MemTotal:       1000 kB\nMemFree:         10 kB\nMemAvailable:    600 kB\n",
	}
	fakeTree(t, root, files)
	m := &usageMeter{procRoot: filepath.Join(root, "proc"), cgroupRoot: filepath.Join(root, "cg"), node: "n1", prevPods: map[string]usageSample{}}
	pods := []podUsageSource{{uid: "u1", namespace: "default", name: "p1", pids: []int{10}}}
	t0 := time.Unix(1000, 0)
	if u := m.measure(t0, pods); u != nil {
		t.Fatalf("first reading gave %v, want nothing", u)
	}
	// Two seconds later the pod used half a second of CPU, the node 100
	// more ticks of user and system time (one second).
	fakeTree(t, root, map[string]string{
		"cg/pods/p1/cpu.stat": "usage_usec 1500000\n",
		"proc/stat":           "cpu  150 0 150 900 0 0 0 0 0 0\n",
	})
	u := m.measure(t0.Add(2*time.Second), pods)
	if u == nil || u.GetNode() != "n1" || u.GetWindowMillis() != 2000 || u.GetCpuMillicores() != 500 || u.GetMemoryBytes() != 400*1024 {
		t.Fatalf("node usage %v; want n1, 2000 ms, 500m, 409600 bytes", u)
	}
	if len(u.GetPods()) != 1 || u.GetPods()[0].GetCpuMillicores() != 250 || u.GetPods()[0].GetMemoryBytes() != 1048576 {
		t.Errorf("pod usage %v; want 250m and 1 MiB", u.GetPods())
	}
	// A pod that ended is forgotten; a new one waits for its second reading.
	u = m.measure(t0.Add(4*time.Second), []podUsageSource{{uid: "u2", namespace: "default", name: "p2", pids: []int{10}}})
	if u == nil || len(u.GetPods()) != 0 {
		t.Errorf("a pod's first reading was shown: %v", u)
	}
}
