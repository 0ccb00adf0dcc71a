package scheduler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobcluster/jobcluster/api"
)

func TestPodRuntime(t *testing.T) {
	for _, tc := range []struct {
		name string
		pod  *api.Pod
		want string
	}{
		{"a command alone runs on the default runtime", placed("", "", ""), ""},
		{"an image and a command run on the default runtime", placed("", "", "", withCommand), ""},
		{"an image without a command needs docker", placed("", "", "", imageOnly), api.RuntimeDocker},
		{"runtimeClassName wins", placed("", "", "", imageOnly, runtimeClass("process")), api.RuntimeProcess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := api.PodRuntime(tc.pod); got != tc.want {
				t.Errorf("PodRuntime = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNodeRuntimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		node *api.Node
		want []string
	}{
		{"no annotation means processes only", node("a", "", "", ""), []string{"process"}},
		{"listed in order, default first", node("a", "", "", "", runtimes("docker, process")), []string{"docker", "process"}},
		{"empty entries are dropped", node("a", "", "", "", runtimes("docker,,")), []string{"docker"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, NodeRuntimes(tc.node)); diff != "" {
				t.Errorf("NodeRuntimes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRuntimeWarning(t *testing.T) {
	const images = "no Ready node can run container images yet: its pods stay Pending until an agent started with --runtime docker joins"
	for _, tc := range []struct {
		name  string
		pod   *api.Pod
		nodes []*api.Node
		want  string
	}{
		{"a command runs anywhere", placed("", "", ""), nil, ""},
		{"an image with no node at all", placed("", "", "", imageOnly), nil, images},
		{"an image on process nodes only", placed("", "", "", imageOnly), []*api.Node{node("a", "1", "", ""), node("b", "1", "", "", runtimes("process"))}, images},
		{"an image with a docker node that is not Ready", placed("", "", "", imageOnly), []*api.Node{node("a", "1", "", "", runtimes("docker"), notReady)}, images},
		{"an image with a Ready docker node", placed("", "", "", imageOnly), []*api.Node{node("a", "1", "", ""), node("b", "1", "", "", runtimes("process,docker"))}, ""},
		{"a command asking for docker", placed("", "", "", runtimeClass("docker")), []*api.Node{node("a", "1", "", "")}, images},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RuntimeWarning(tc.pod.GetSpec(), tc.nodes); got != tc.want {
				t.Errorf("RuntimeWarning = %q, want %q", got, tc.want)
			}
		})
	}
}
