package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLookupResource(t *testing.T) {
	for _, tc := range []struct {
		name string
		want *Resource
	}{
		{name: "job", want: JobResource},
		{name: "jobs", want: JobResource},
		{name: "Job", want: JobResource},
		{name: "JOBS", want: JobResource},
		{name: "job.batch", want: JobResource},
		{name: "jobs.batch", want: JobResource},
		{name: "cronjob", want: CronJobResource},
		{name: "CronJob", want: CronJobResource},
		{name: "cronjobs.batch", want: CronJobResource},
		{name: "cj", want: CronJobResource},
		{name: "pod", want: PodResource},
		{name: "pods", want: PodResource},
		{name: "po", want: PodResource},
		{name: "node", want: NodeResource},
		{name: "Nodes", want: NodeResource},
		{name: "no", want: NodeResource},
		{name: "event", want: EventResource},
		{name: "events", want: EventResource},
		{name: "ev", want: EventResource},
		{name: "deployments"},
		{name: ""},
		{name: "pods.batch"},
		{name: "job.apps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := LookupResource(tc.name)
			if got != tc.want || ok != (tc.want != nil) {
				t.Errorf("LookupResource(%q) = %v, %v; want %v", tc.name, got, ok, tc.want)
			}
		})
	}
}

func TestResourceNames(t *testing.T) {
	type names struct {
		APIVersion, GroupResource, GroupKind, NotFound, AlreadyExists string
		Namespaced                                                    bool
	}
	for _, tc := range []struct {
		r    *Resource
		want names
	}{
		{r: JobResource, want: names{APIVersion: "batch/v1", GroupResource: "jobs.batch", GroupKind: "job.batch",
			NotFound: `jobs.batch "x" not found`, AlreadyExists: `jobs.batch "x" already exists`, Namespaced: true}},
		{r: CronJobResource, want: names{APIVersion: "batch/v1", GroupResource: "cronjobs.batch", GroupKind: "cronjob.batch",
			NotFound: `cronjobs.batch "x" not found`, AlreadyExists: `cronjobs.batch "x" already exists`, Namespaced: true}},
		{r: PodResource, want: names{APIVersion: "v1", GroupResource: "pods", GroupKind: "pod",
			NotFound: `pods "x" not found`, AlreadyExists: `pods "x" already exists`, Namespaced: true}},
		{r: NodeResource, want: names{APIVersion: "v1", GroupResource: "nodes", GroupKind: "node",
			NotFound: `nodes "x" not found`, AlreadyExists: `nodes "x" already exists`}},
		{r: EventResource, want: names{APIVersion: "v1", GroupResource: "events", GroupKind: "event",
			NotFound: `events "x" not found`, AlreadyExists: `events "x" already exists`, Namespaced: true}},
	} {
		t.Run(tc.r.Kind, func(t *testing.T) {
			got := names{
				APIVersion: tc.r.APIVersion(), GroupResource: tc.r.GroupResource(), GroupKind: tc.r.GroupKind(),
				NotFound: tc.r.NotFound("x"), AlreadyExists: tc.r.AlreadyExists("x"), Namespaced: tc.r.Namespaced,
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("names of %s (-want +got):\n%s", tc.r.Kind, diff)
			}
		})
	}
}

func TestResourceOfEveryObjectKind(t *testing.T) {
	objs := []*Object{
		{Kind: &Object_Job{Job: &Job{}}},
		{Kind: &Object_CronJob{CronJob: &CronJob{}}},
		{Kind: &Object_Pod{Pod: &Pod{}}},
		{Kind: &Object_Node{Node: &Node{}}},
		{Kind: &Object_Event{Event: &Event{}}},
		{Kind: &Object_ConfigMap{ConfigMap: &ConfigMap{}}},
		{Kind: &Object_Secret{Secret: &Secret{}}},
	}
	var got []*Resource
	for _, obj := range objs {
		got = append(got, ResourceOf(obj))
	}
	if diff := cmp.Diff(Resources(), got); diff != "" {
		t.Errorf("ResourceOf (-want +got):\n%s", diff)
	}
	if r := ResourceOf(&Object{}); r != nil {
		t.Errorf("ResourceOf(empty object) = %v, want nil", r)
	}
}
