package agent

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
)

func TestContainerEnv(t *testing.T) {
	path := "PATH=" + os.Getenv("PATH")
	tests := []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		container   *api.Container
		wantEnv     []string
		wantArgv    []string
	}{
		{
			name:      "plain pod of a Job",
			labels:    map[string]string{"job-name": "job-x"},
			container: &api.Container{Command: []string{"echo"}, Args: []string{"a", "b"}},
			wantEnv: []string{path, "HOSTNAME=pod-a", "JOBCLUSTER_POD_NAME=pod-a",
				"JOBCLUSTER_JOB_NAME=job-x", "JOBCLUSTER_NODE_NAME=node-a"},
			wantArgv: []string{"echo", "a", "b"},
		},
		{
			name:   "indexed Job pod with container env in order",
			labels: map[string]string{"job-name": "job-x", api.LabelCompletionIndex: "7"},
			container: &api.Container{
				Command: []string{"sh", "-c"},
				Args:    []string{"echo $(JOB_COMPLETION_INDEX) $(GREETING)"},
				Env:     []*api.EnvVar{{Name: "B", Value: "2"}, {Name: "GREETING", Value: "hi-$(B)"}},
			},
			wantEnv: []string{path, "B=2", "GREETING=hi-2", "HOSTNAME=pod-a", "JOBCLUSTER_POD_NAME=pod-a",
				"JOBCLUSTER_JOB_NAME=job-x", "JOBCLUSTER_NODE_NAME=node-a", "JOB_COMPLETION_INDEX=7"},
			wantArgv: []string{"sh", "-c", "echo 7 hi-2"},
		},
		{
			name:        "completion index from the annotation",
			annotations: map[string]string{api.LabelCompletionIndex: "2"},
			container:   &api.Container{Command: []string{"true"}},
			wantEnv: []string{path, "HOSTNAME=pod-a", "JOBCLUSTER_POD_NAME=pod-a",
				"JOBCLUSTER_JOB_NAME=", "JOBCLUSTER_NODE_NAME=node-a", "JOB_COMPLETION_INDEX=2"},
			wantArgv: []string{"true"},
		},
		{
			name:      "container env sets the completion index itself",
			labels:    map[string]string{api.LabelCompletionIndex: "7"},
			container: &api.Container{Command: []string{"true"}, Env: []*api.EnvVar{{Name: "JOB_COMPLETION_INDEX", Value: "mine"}}},
			wantEnv: []string{path, "JOB_COMPLETION_INDEX=mine", "HOSTNAME=pod-a", "JOBCLUSTER_POD_NAME=pod-a",
				"JOBCLUSTER_JOB_NAME=", "JOBCLUSTER_NODE_NAME=node-a"},
			wantArgv: []string{"true"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &api.Pod{Metadata: &api.ObjectMeta{Name: "pod-a", Labels: tt.labels, Annotations: tt.annotations}}
			env, argv, err := containerEnv(pod, tt.container, envContext{node: "node-a"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantEnv, env); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantArgv, argv); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "1", "LONG_NAME": "x y"}
	lookup := func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
	tests := []struct {
		name, in, want string
	}{
		{name: "no reference", in: "plain $HOME", want: "plain $HOME"},
		{name: "known references", in: "$(A)-$(LONG_NAME)", want: "1-x y"},
		{name: "unknown reference kept", in: "$(NOPE) $(A)", want: "$(NOPE) 1"},
		{name: "escaped reference", in: "$$(A) $$", want: "$(A) $"},
		{name: "unterminated reference", in: "x $(A", want: "x $(A"},
		{name: "empty name", in: "$()", want: "$()"},
		{name: "dollar at the end", in: "cost $", want: "cost $"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expandVars(tt.in, lookup, MaxExpandedBytes); got != tt.want {
				t.Errorf("expandVars(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// References that double at each level would need 2^40 bytes; the
// expansion stops at its budget and the container is refused.
func TestNestedReferencesStopAtTheExpansionLimit(t *testing.T) {
	env := []*api.EnvVar{{Name: "V0", Value: "xxxxxxxxxxxxxxxx"}}
	for i := 1; i <= 40; i++ {
		env = append(env, &api.EnvVar{Name: fmt.Sprintf("V%d", i), Value: fmt.Sprintf("$(V%d)$(V%d)", i-1, i-1)})
	}
	pod := &api.Pod{Metadata: &api.ObjectMeta{Name: "pod-a"}}
	c := &api.Container{Name: "main", Command: []string{"echo", "$(V40)"}, Env: env}
	_, _, err := containerEnv(pod, c, envContext{node: "node-a"})
	if err == nil || !strings.Contains(err.Error(), `container "main": expanding the $(VAR) references`) {
		t.Fatalf("40 doubling references: err %v, want the expansion limit named", err)
	}

	// Just under the limit is fine.
	big := strings.Repeat("y", MaxExpandedBytes/2-1000)
	c = &api.Container{Name: "main", Command: []string{"echo", "$(A)"}, Env: []*api.EnvVar{{Name: "A", Value: big}}}
	if _, argv, err := containerEnv(pod, c, envContext{node: "node-a"}); err != nil || argv[1] != big {
		t.Errorf("half a MiB used twice: err %v", err)
	}
}
