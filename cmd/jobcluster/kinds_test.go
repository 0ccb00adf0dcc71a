package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/jobcluster/jobcluster/api"
)

func TestParseResourceArgs(t *testing.T) {
	type result struct {
		Kind  string
		Names []string
		Err   string
	}
	tests := []struct {
		name string
		args []string
		want result
	}{
		{name: "plural", args: []string{"jobs"}, want: result{Kind: "job"}},
		{name: "group-qualified with name", args: []string{"job.batch", "pi"}, want: result{Kind: "job", Names: []string{"pi"}}},
		{name: "short cronjob alias", args: []string{"cj", "hello"}, want: result{Kind: "cronjob", Names: []string{"hello"}}},
		{name: "short pod alias", args: []string{"po"}, want: result{Kind: "pod"}},
		{name: "short node alias", args: []string{"no", "a1", "a2"}, want: result{Kind: "node", Names: []string{"a1", "a2"}}},
		{name: "upper case", args: []string{"Jobs"}, want: result{Kind: "job"}},
		{name: "kind/name form", args: []string{"job/pi", "jobs/e"}, want: result{Kind: "job", Names: []string{"pi", "e"}}},
		{name: "unknown kind", args: []string{"deployments"},
			want: result{Err: `the server doesn't have a resource type "deployments"`}},
		{name: "kind not offered by the command", args: []string{"events"},
			want: result{Err: "events are not supported here, use one of: jobs, cronjobs, pods, nodes"}},
		{name: "mixed kinds in slash form", args: []string{"job/a", "pod/b"},
			want: result{Err: "arguments in resource/name form must all have the same type, got job and pod"}},
		{name: "nothing given", args: nil,
			want: result{Err: "you must specify the type of resource: jobs, cronjobs, pods, nodes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, names, err := parseResourceArgs(tc.args, api.JobResource, api.CronJobResource, api.PodResource, api.NodeResource)
			var got result
			if err != nil {
				got = result{Err: err.Error()}
			} else {
				got = result{Kind: r.Singular, Names: names}
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseResourceArgs(%q) (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}
