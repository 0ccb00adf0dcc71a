package scheduler

import (
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// Runtimes an agent can run pods with, as named in spec.runtimeClassName,
// `agent --runtime` and the node annotation RuntimesAnnotation.
const (
	RuntimeProcess = "process"
	RuntimeDocker  = "docker"
)

// RuntimesAnnotation lists a node's runtimes, its default first, for
// example "process,docker". A node without it runs processes only.
const RuntimesAnnotation = "jobcluster.io/runtimes"

// NodeRuntimes returns the runtimes a node advertises, its default first.
func NodeRuntimes(n *api.Node) []string {
	v := strings.TrimSpace(n.GetMetadata().GetAnnotations()[RuntimesAnnotation])
	if v == "" {
		return []string{RuntimeProcess}
	}
	var out []string
	for _, r := range strings.Split(v, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// PodRuntime returns the runtime a pod needs: its runtimeClassName when
// set, docker when a container has an image and no command (only a
// container runtime can run an image by itself), otherwise "" for the
// agent's default.
func PodRuntime(pod *api.Pod) string {
	if rc := pod.GetSpec().GetRuntimeClassName(); rc != "" {
		return rc
	}
	for _, c := range pod.GetSpec().GetContainers() {
		if c.GetImage() != "" && len(c.GetCommand()) == 0 {
			return RuntimeDocker
		}
	}
	return ""
}

// runsRuntime reports whether a node with runtimes can run a pod that needs
// runtime ("" meaning any).
func runsRuntime(runtimes []string, runtime string) bool {
	if runtime == "" {
		return true
	}
	for _, r := range runtimes {
		if r == runtime {
			return true
		}
	}
	return false
}

// unfitRuntime words why a node cannot run a pod that needs runtime.
func unfitRuntime(runtime string) string {
	if runtime == RuntimeDocker {
		return unfitImages
	}
	return "node(s) cannot run runtime class " + runtime
}
