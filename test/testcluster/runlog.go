package testcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RunLog is a file to which pods' commands append a line when they start,
// while they run and when they end, each naming the pod and the node, so a
// test sees where and when every pod's process really ran, even one that
// was killed.
type RunLog struct {
	// Path is the file the pods append to.
	Path string
}

// NewRunLog returns a run log writing to a fresh file under t.TempDir().
func NewRunLog(t testing.TB) *RunLog {
	t.Helper()
	return &RunLog{Path: filepath.Join(t.TempDir(), "runs")}
}

// line is shell text appending `WHAT <epoch-nanos> $HOSTNAME
// $JOBCLUSTER_NODE_NAME` to the log.
func (l *RunLog) line(what string) string {
	return fmt.Sprintf(`echo %s $(date +%%s%%N) $HOSTNAME $JOBCLUSTER_NODE_NAME >> %s`, what, l.Path)
}

// Script returns shell text that logs the start, runs body, logs the end
// and exits with body's status. body must not contain single quotes.
func (l *RunLog) Script(body string) string {
	return fmt.Sprintf(`%s; %s; rc=$?; %s; exit $rc`, l.line("start"), body, l.line("end"))
}

// Ticking returns a body for Script that runs for d and logs a tick about
// every 100 ms, so the log shows until when a killed process ran.
func (l *RunLog) Ticking(d time.Duration) string {
	return fmt.Sprintf(`until=$(( $(date +%%s%%N) + %d )); while [ $(date +%%s%%N) -lt $until ]; do %s; sleep 0.1; done`,
		d.Nanoseconds(), l.line("tick"))
}

// Run is one run of one pod's process.
type Run struct {
	Pod, Node string
	Start     time.Time
	// LastSeen is the last start, tick or end line of the run.
	LastSeen time.Time
	// Ended tells whether the run logged its end; a killed one did not.
	Ended bool
}

// Runs parses the log. Each start line begins a run; tick and end lines
// belong to the pod's latest run.
func (l *RunLog) Runs() ([]Run, error) {
	b, err := os.ReadFile(l.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var runs []Run
	latest := map[string]int{} // pod -> index in runs
	for i, text := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if text == "" {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 4 {
			return nil, fmt.Errorf("%s line %d: %q: want `start|tick|end NANOS POD NODE`", l.Path, i+1, text)
		}
		nanos, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", l.Path, i+1, err)
		}
		at, pod := time.Unix(0, nanos), f[2]
		if f[0] == "start" {
			latest[pod] = len(runs)
			runs = append(runs, Run{Pod: pod, Node: f[3], Start: at, LastSeen: at})
			continue
		}
		j, ok := latest[pod]
		if !ok {
			return nil, fmt.Errorf("%s line %d: %s logged %s before it started", l.Path, i+1, pod, f[0])
		}
		switch f[0] {
		case "tick":
		case "end":
			runs[j].Ended = true
		default:
			return nil, fmt.Errorf("%s line %d: %q: want start, tick or end", l.Path, i+1, f[0])
		}
		runs[j].LastSeen = at
	}
	return runs, nil
}

// StartsByPod counts the runs of each pod.
func StartsByPod(runs []Run) map[string]int {
	out := map[string]int{}
	for _, r := range runs {
		out[r.Pod]++
	}
	return out
}
