package scheduler

import (
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// RuntimesAnnotation lists a node's runtimes, its default first, for
// example "process,docker". A node without it runs processes only.
const RuntimesAnnotation = "jobcluster.io/runtimes"

// NodeRuntimes returns the runtimes a node advertises, its default first.
func NodeRuntimes(n *api.Node) []string {
	v := strings.TrimSpace(n.GetMetadata().GetAnnotations()[RuntimesAnnotation])
	if v == "" {
		return []string{api.RuntimeProcess}
	}
	var out []string
	for _, r := range strings.Split(v, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
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
	if runtime == api.RuntimeDocker {
		return unfitImages
	}
	return "node(s) cannot run runtime class " + runtime
}

// RuntimeWarning words, as kubectl prints a warning, why no Ready node can
// run pods made from spec yet; "" when one can. Such pods wait Pending
// until a node that runs them joins.
func RuntimeWarning(spec *api.PodSpec, nodes []*api.Node) string {
	rt := api.PodRuntime(&api.Pod{Spec: spec})
	if rt == "" {
		return ""
	}
	for _, n := range nodes {
		if NodeReady(n) && runsRuntime(NodeRuntimes(n), rt) {
			return ""
		}
	}
	what := "runtime class " + rt
	if rt == api.RuntimeDocker {
		what = "container images"
	}
	return "no Ready node can run " + what + " yet: its pods stay Pending until an agent started with --runtime " + rt + " joins"
}
