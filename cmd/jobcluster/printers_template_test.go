package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

func TestTemplatesLabelsAndSorting(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	pod := func(name, phase string, restarts int32, labels map[string]string) *api.Object {
		return &api.Object{Kind: &api.Object_Pod{Pod: &api.Pod{
			Metadata: &api.ObjectMeta{Name: name, Namespace: "default", Labels: labels, CreationTimestamp: ts(now, -time.Minute)},
			Spec:     &api.PodSpec{NodeName: "a1", Containers: []*api.Container{{Name: "main"}}},
			Status: &api.PodStatus{Phase: phase, ContainerStatuses: []*api.ContainerStatus{{Name: "main", RestartCount: restarts,
				State: &api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: ts(now, -time.Minute)}}}}},
		}}}
	}
	b := pod("b", "Running", 2, map[string]string{"app": "web", "tier": "front"})
	a := pod("a", "Pending", 0, nil)
	c := pod("c", "Running", 10, map[string]string{"app": "db"})
	tests := []struct {
		name    string
		objs    []*api.Object
		format  string
		single  bool
		sc      scope
		sortBy  string
		wantOut string
		wantErr string
	}{
		{name: "jsonpath over a list", objs: []*api.Object{a, b}, format: "jsonpath={.items[*].metadata.name}",
			wantOut: "a b"},
		{name: "jsonpath over one object", objs: []*api.Object{b}, single: true, format: `jsonpath={.status.phase}{"\n"}`,
			wantOut: "Running\n"},
		{name: "jsonpath range", objs: []*api.Object{a, b}, format: `jsonpath={range .items[*]}{.metadata.name}:{.status.phase}{"\n"}{end}`,
			wantOut: "a:Pending\nb:Running\n"},
		{name: "a broken jsonpath", objs: []*api.Object{a}, format: "jsonpath={.items[", wantErr: "error parsing jsonpath"},
		{name: "custom columns, missing values as <none>", objs: []*api.Object{a, b},
			format:  "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app,NODE:{.spec.nodeName}",
			wantOut: "NAME   APP      NODE\na      <none>   a1\nb      web      a1\n"},
		{name: "custom columns without a path", objs: []*api.Object{a}, format: "custom-columns=NAME", wantErr: "expected <header>:<json-path-expr>"},
		{name: "show labels", objs: []*api.Object{a, b}, sc: scope{showLabels: true},
			wantOut: "NAME   READY   STATUS    RESTARTS   AGE   LABELS\na      1/1     Pending   0          60s   <none>\nb      1/1     Running   2          60s   app=web,tier=front\n"},
		{name: "label columns", objs: []*api.Object{a, b}, sc: scope{labelColumns: []string{"app", "example.com/tier"}},
			wantOut: "NAME   READY   STATUS    RESTARTS   AGE   APP   TIER\na      1/1     Pending   0          60s         \nb      1/1     Running   2          60s   web   \n"},
		{name: "sort by restarts, numerically", objs: []*api.Object{c, b, a}, sortBy: ".status.containerStatuses[0].restartCount",
			format: "jsonpath={.items[*].metadata.name}", wantOut: "a b c"},
		{name: "sort by a string", objs: []*api.Object{c, b, a}, sortBy: "{.status.phase}",
			format: "jsonpath={.items[*].metadata.name}", wantOut: "a c b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := append([]*api.Object(nil), tc.objs...)
			if tc.sortBy != "" {
				if err := sortByPath(objs, tc.sortBy); err != nil {
					t.Fatal(err)
				}
			}
			var out, errOut bytes.Buffer
			err := printObjects(&out, &errOut, api.PodResource, objs, tc.format, tc.single, now, tc.sc)
			if tc.wantErr != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.wantErr)) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.wantOut {
				t.Errorf("output:\n%q\nwant:\n%q", out.String(), tc.wantOut)
			}
		})
	}
}
