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
		{"an image without a command needs docker", placed("", "", "", imageOnly), RuntimeDocker},
		{"runtimeClassName wins", placed("", "", "", imageOnly, runtimeClass("process")), RuntimeProcess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PodRuntime(tc.pod); got != tc.want {
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
