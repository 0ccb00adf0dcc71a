package test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// topRows parses top's table into rows of fields, header first, with
// kubectl's trailing padding gone.
func topRows(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

// value reads "250m" or "31Mi" as a number.
func topValue(t *testing.T, s, unit string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSuffix(s, unit), 10, 64)
	if err != nil || !strings.HasSuffix(s, unit) {
		t.Fatalf("%q is not a number of %s", s, unit)
	}
	return n
}

// `top pods` and `top nodes` show what the agents measured: a pod held
// to 200m of CPU by its limit shows about that, a pod holding 40 MB shows
// at least that, a node shows its share of its allocatable, and kubectl
// top, through the metrics.k8s.io API, prints the same table.
func TestTopShowsMeasuredUsage(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 1, HTTP: true})
	c.Submit(`apiVersion: batch/v1
kind: Job
metadata:
  name: spin
spec:
  template:
    metadata:
      labels:
        load: cpu
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [sh, -c, 'while :; do :; done']
        resources:
          limits:
            cpu: 200m
`)
	c.Submit(`apiVersion: batch/v1
kind: Job
metadata:
  name: hold
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [sh, -c, 'x=$(head -c 40000000 /dev/zero | tr "\\0" a); echo held; sleep 600']
`)
	var spin, hold []string
	wait.Within(t, 60*time.Second, "top pods to show both pods", func() (bool, string) {
		r := c.CLI("top", "pods")
		spin, hold = nil, nil
		for _, row := range topRows(r.Stdout) {
			if len(row) == 3 && strings.HasPrefix(row[0], "spin-") {
				spin = row
			}
			if len(row) == 3 && strings.HasPrefix(row[0], "hold-") && topValue(t, row[2], "Mi") > 0 {
				hold = row
			}
		}
		return spin != nil && hold != nil, r.Stdout + r.Stderr
	})
	wait.Within(t, 60*time.Second, "the held memory to show", func() (bool, string) {
		for _, row := range topRows(c.MustCLI("top", "pods", "--sort-by", "memory", "--no-headers")) {
			if strings.HasPrefix(row[0], "hold-") {
				hold = row
			}
		}
		return topValue(t, hold[2], "Mi") >= 38, fmt.Sprint(hold)
	})
	t.Logf("measured: %v and %v", spin, hold)
	if cpu := topValue(t, spin[1], "m"); cpu < 50 || cpu > 260 {
		t.Errorf("the pod limited to 200m shows %dm", cpu)
	}

	// Sorting, selecting and naming, as kubectl top does.
	rows := topRows(c.MustCLI("top", "pods", "--sort-by", "memory", "--no-headers"))
	if len(rows) != 2 || !strings.HasPrefix(rows[0][0], "hold-") {
		t.Errorf("--sort-by memory --no-headers: %v", rows)
	}
	rows = topRows(c.MustCLI("top", "pods", "-l", "load=cpu"))
	if len(rows) != 2 || strings.Join(rows[0], " ") != "NAME CPU(cores) MEMORY(bytes)" || rows[1][0] != spin[0] {
		t.Errorf("-l load=cpu: %v", rows)
	}
	rows = topRows(c.MustCLI("top", "pods", "-A", spin[0]))
	if len(rows) != 2 || rows[0][0] != "NAMESPACE" || rows[1][0] != "default" || rows[1][1] != spin[0] {
		t.Errorf("-A NAME: %v", rows)
	}
	if r := c.CLI("top", "pods", "-n", "elsewhere"); r.Err == nil || !strings.Contains(r.Stderr, `no running pod in namespace "elsewhere" measured`) {
		t.Errorf("top pods in an empty namespace: %v %q", r.Err, r.Stderr)
	}
	nodes := topRows(c.MustCLI("top", "nodes"))
	if len(nodes) != 2 || strings.Join(nodes[0], " ") != "NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)" || nodes[1][0] != c.Agents[0].Name {
		t.Fatalf("top nodes: %v", nodes)
	}
	if cpu := topValue(t, nodes[1][1], "m"); cpu < 50 || !strings.HasSuffix(nodes[1][2], "%") || !strings.HasSuffix(nodes[1][4], "%") {
		t.Errorf("top nodes: %v", nodes[1])
	}

	// kubectl top reads the same measurements through metrics.k8s.io.
	k := newKubectl(t, c.Servers[0].HTTPAddr)
	for _, args := range [][]string{{"top", "pods"}, {"top", "nodes"}, {"top", "pods", "-A", "-l", "load=cpu"}} {
		wait.For(t, "kubectl "+strings.Join(args, " ")+" to print what jobcluster prints", func() (bool, string) {
			ours := c.MustCLI(args...)
			theirs := k.must(args...)
			return fmt.Sprint(topRows(ours)) == fmt.Sprint(topRows(theirs)), "jobcluster:\n" + ours + "kubectl:\n" + theirs
		})
	}
}
