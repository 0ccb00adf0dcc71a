package main

import (
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

func TestWaitConditions(t *testing.T) {
	complete := &api.Object{Kind: &api.Object_Job{Job: &api.Job{
		Metadata: &api.ObjectMeta{Name: "pi"},
		Status:   &api.JobStatus{Succeeded: 1, Conditions: []*api.JobCondition{{Type: "Complete", Status: "True"}}},
	}}}
	running := &api.Object{Kind: &api.Object_Pod{Pod: &api.Pod{Metadata: &api.ObjectMeta{Name: "p"}, Status: &api.PodStatus{Phase: "Running"}}}}
	for _, tt := range []struct {
		name, for_ string
		obj        *api.Object
		want       bool
		wantErr    bool
	}{
		{"complete, any case", "condition=complete", complete, true, false},
		{"complete with an explicit value", "condition=Complete=True", complete, true, false},
		{"not failed", "condition=failed", complete, false, false},
		{"complete=false is not met", "condition=complete=false", complete, false, false},
		{"deleted object", "delete", nil, true, false},
		{"object still there", "delete", complete, false, false},
		{"gone while waiting for a condition", "condition=complete", nil, false, false},
		{"jsonpath value", "jsonpath={.status.phase}=Running", running, true, false},
		{"jsonpath other value", "jsonpath={.status.phase}=Succeeded", running, false, false},
		{"jsonpath without braces", "jsonpath=.status.succeeded=1", complete, true, false},
		{"jsonpath field present", "jsonpath={.status.phase}", running, true, false},
		{"unknown", "ready", nil, false, true},
		{"condition without a type", "condition=", nil, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseWaitFor(tt.for_)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse %q: %v", tt.for_, err)
			}
			if err == nil && c.met(tt.obj) != tt.want {
				t.Errorf("%q met = %v, want %v", tt.for_, !tt.want, tt.want)
			}
		})
	}
}
