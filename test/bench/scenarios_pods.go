package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// jobParams shapes a benchmark Job. Its pod runs script with sh -c, or
// command when script is empty.
type jobParams struct {
	name        string
	labels      map[string]string
	parallelism int
	completions int
	script      string
	command     []string
}

func (p jobParams) spec() map[string]any {
	command := p.command
	if p.script != "" {
		command = []string{"sh", "-c", p.script}
	}
	return map[string]any{
		"parallelism":  p.parallelism,
		"completions":  p.completions,
		"backoffLimit": 0,
		"template": map[string]any{
			"spec": map[string]any{
				"restartPolicy": "Never",
				"containers": []any{map[string]any{
					"name":    "main",
					"command": command,
				}},
			},
		},
	}
}

func (p jobParams) manifest() map[string]any {
	return map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": p.name, "labels": p.labels},
		"spec":       p.spec(),
	}
}

// cronManifest is a CronJob whose Jobs are shaped by tmpl (name unused).
// Its startingDeadlineSeconds lets a second missed during a leader
// election be caught up rather than skipped.
func cronManifest(name, schedule string, suspend bool, tmpl jobParams) map[string]any {
	return map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "CronJob",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"schedule":                schedule,
			"suspend":                 suspend,
			"concurrencyPolicy":       "Allow",
			"startingDeadlineSeconds": 10,
			"jobTemplate":             map[string]any{"spec": tmpl.spec()},
		},
	}
}

// decode turns manifests into API objects the way the CLI does: JSON (one
// v1 List for several) through api.DecodeManifests.
func decode(manifests ...map[string]any) ([]*api.Object, error) {
	var doc any = manifests[0]
	if len(manifests) > 1 {
		doc = map[string]any{"apiVersion": "v1", "kind": "List", "items": manifests}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode manifests: %w", err)
	}
	objs, err := api.DecodeManifests(b)
	if err != nil {
		return nil, fmt.Errorf("decode manifests: %w", err)
	}
	return objs, nil
}

// stampLine is the shell for one line "<event> <unix ns> <node> <pgid>
// <pod>" appended to dir/file. date runs as a single fork: the time is
// taken a millisecond or two after the pod's process started. The shell's
// $$ is written $$$$ because, as in Kubernetes, a command's $$ stands for
// a literal $.
func stampLine(event, dir, file string) string {
	return fmt.Sprintf(`date "+%s %%s%%N ${JOBCLUSTER_NODE_NAME} $$$$ ${HOSTNAME}" >> '%s'/"%s"`, event, dir, file)
}

// stamp is one line a pod wrote.
type stamp struct {
	event string
	at    time.Time
	node  string
	pgid  int
	pod   string
}

// readStamps reads every file of dir: file name to its complete lines.
func readStamps(dir string) (map[string][]stamp, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read stamps: %w", err)
	}
	out := map[string][]stamp{}
	for _, e := range entries {
		lines, err := readStampFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if len(lines) > 0 {
			out[e.Name()] = lines
		}
	}
	return out, nil
}

// readStampFile reads the complete lines of one stamp file; a missing file
// has none.
func readStampFile(path string) ([]stamp, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stamps: %w", err)
	}
	// A line still being written has no newline yet.
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		return nil, nil
	}
	var out []stamp
	for _, line := range strings.Split(string(b[:i]), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			return nil, fmt.Errorf("read stamps: %s: bad line %q", path, line)
		}
		ns, err1 := strconv.ParseInt(f[1], 10, 64)
		pgid, err2 := strconv.Atoi(f[3])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("read stamps: %s: bad line %q: %w", path, line, err)
		}
		recordPodGroup(pgid, f[4])
		out = append(out, stamp{event: f[0], at: time.Unix(0, ns), node: f[2], pgid: pgid, pod: f[4]})
	}
	return out, nil
}

// waitStampFile polls one stamp file until it has a complete line.
func waitStampFile(ctx context.Context, path string, interval time.Duration) ([]stamp, error) {
	var lines []stamp
	err := poll(ctx, interval, "stamp "+filepath.Base(path), func() (bool, string) {
		var err error
		if lines, err = readStampFile(path); err != nil {
			return false, err.Error()
		}
		return len(lines) > 0, "no line yet"
	})
	return lines, err
}

// waitStamps polls dir until cond holds for its stamps, and returns them.
func waitStamps(ctx context.Context, dir string, interval time.Duration, what string, cond func(map[string][]stamp) (bool, string)) (map[string][]stamp, error) {
	var stamps map[string][]stamp
	err := poll(ctx, interval, what, func() (bool, string) {
		var err error
		if stamps, err = readStamps(dir); err != nil {
			return false, err.Error()
		}
		return cond(stamps)
	})
	return stamps, err
}

// first returns the first stamp of an event in a file's lines.
func first(lines []stamp, event string) (stamp, bool) {
	for _, s := range lines {
		if s.event == event {
			return s, true
		}
	}
	return stamp{}, false
}

// Pod process groups seen in stamps, by group ID to pod name. A pod whose
// agent was killed may leave children behind; they are killed when the
// benchmark ends.
var (
	podGroupsMu sync.Mutex
	podGroups   = map[int]string{}
)

func recordPodGroup(pgid int, pod string) {
	if pgid <= 1 {
		return
	}
	podGroupsMu.Lock()
	podGroups[pgid] = pod
	podGroupsMu.Unlock()
}

// killPodGroups kills what is left of the pod process groups seen.
func killPodGroups() {
	podGroupsMu.Lock()
	defer podGroupsMu.Unlock()
	all := procs()
	for pgid, pod := range podGroups {
		killPod(all, pgid, pod)
	}
	podGroups = map[int]string{}
}

// podProcesses lists the processes of a pod's process group among all. Process
// IDs are reused quickly on a busy machine, so a process counts only if
// its environment names the pod.
func podProcesses(all []proc, pgid int, pod string) []int {
	var out []int
	want := []byte("\x00JOBCLUSTER_POD_NAME=" + pod + "\x00")
	for _, p := range all {
		if p.pgrp != pgid {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.pid))
		if err == nil && bytes.Contains(append([]byte{0}, env...), want) {
			out = append(out, p.pid)
		}
	}
	return out
}

// killPod kills the processes left of a pod.
func killPod(all []proc, pgid int, pod string) {
	for _, pid := range podProcesses(all, pgid, pod) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
