package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jobcluster/jobcluster/agent"
	"github.com/jobcluster/jobcluster/agent/docker"
	"github.com/jobcluster/jobcluster/api"
	"github.com/spf13/pflag"
)

// agentRuntimes is what --runtime gives an agent: the runtime it hands pods
// to, the names it advertises (its default first) and the versions.
type agentRuntimes struct {
	runtime  agent.Runtime
	names    []string
	versions []string
	close    func()
}

// runtimeFlags are the flags that choose and configure an agent's runtimes.
type runtimeFlags struct {
	list                           string
	allowPrivileged, allowHostPath bool
	podUser                        string
	cgroups                        bool
	cgroupParent                   string
}

func (f *runtimeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.list, "runtime", api.RuntimeProcess, "runtimes pods run with, the default first: process, docker or process,docker (a pod picks one with spec.runtimeClassName; an image without a command, or a volumeMount, needs docker)")
	fs.BoolVar(&f.allowPrivileged, "allow-privileged", false, "let Docker containers run with securityContext.privileged")
	fs.BoolVar(&f.allowHostPath, "allow-host-path", false, "let Docker containers mount hostPath volumes")
	fs.StringVar(&f.podUser, "pod-user", "", "user process pods run as when their securityContext names none: UID, UID:GID or a user name (default: the agent's own user)")
	fs.BoolVar(&f.cgroups, "cgroups", true, "run each process pod in a cgroup of its own, enforcing resources.limits and killing every process it started (falls back to process groups, with a warning, where cgroups are not writable)")
	fs.StringVar(&f.cgroupParent, "cgroup-parent", "", "cgroup, relative to each hierarchy's root, under which process pods run (default jobcluster/NODE)")
}

// newRuntimes builds the runtimes f.list names, for example
// "process,docker"; the first is the default of pods that name none.
func (f *runtimeFlags) newRuntimes(node string, logger *slog.Logger) (*agentRuntimes, error) {
	list := f.list
	out := &agentRuntimes{close: func() {}}
	var rts []agent.Runtime
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if slices.Contains(out.names, name) {
			return nil, fmt.Errorf("--runtime %q: %s is listed twice", list, name)
		}
		switch name {
		case api.RuntimeProcess:
			opts := agent.ProcessOptions{Cgroups: f.cgroups, CgroupParent: f.cgroupParent, MountExecCommand: mountExecCommand()}
			if opts.CgroupParent == "" {
				opts.CgroupParent = "jobcluster/" + node
			}
			if f.podUser != "" {
				u, err := agent.ParsePodUser(f.podUser)
				if err != nil {
					return nil, err
				}
				opts.PodUser = u
			}
			p, warnings, err := agent.NewProcessRuntimeWith(opts)
			if err != nil {
				return nil, fmt.Errorf("process runtime: %w", err)
			}
			for _, w := range warnings {
				logger.Warn(w)
			}
			rts = append(rts, p)
		case api.RuntimeDocker:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			d, err := docker.New(ctx, node, logger)
			if err != nil {
				cancel()
				return nil, fmt.Errorf("--runtime docker: %w (is the Docker engine running, and may this user use its socket?)", err)
			}
			v, err := d.Version(ctx)
			cancel()
			if err != nil {
				_ = d.Close()
				return nil, fmt.Errorf("--runtime docker: %w", err)
			}
			d.AllowPrivileged, d.AllowHostPath = f.allowPrivileged, f.allowHostPath
			prev := out.close
			out.close = func() { prev(); _ = d.Close() }
			out.versions = append(out.versions, v)
			rts = append(rts, d)
		default:
			return nil, fmt.Errorf("--runtime %q: unknown runtime %q; use process, docker or both, the default first (process,docker)", list, name)
		}
		out.names = append(out.names, name)
	}
	if len(rts) == 0 {
		return nil, fmt.Errorf("--runtime %q: name at least one runtime: process, docker or process,docker", list)
	}
	m, err := agent.NewMulti(out.names, rts)
	if err != nil {
		out.close()
		return nil, err
	}
	out.runtime = m
	return out, nil
}
