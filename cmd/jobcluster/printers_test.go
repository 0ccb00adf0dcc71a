package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
)

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{name: "just now", d: 0, want: "0s"},
		{name: "clock skew of a second", d: -time.Second, want: "0s"},
		{name: "far in the future", d: -5 * time.Second, want: "<invalid>"},
		{name: "seconds", d: 45 * time.Second, want: "45s"},
		{name: "seconds up to two minutes", d: 119 * time.Second, want: "119s"},
		{name: "minutes with seconds", d: 2*time.Minute + 5*time.Second, want: "2m5s"},
		{name: "whole minutes", d: 3 * time.Minute, want: "3m"},
		{name: "ten minutes drop seconds", d: 10*time.Minute + 30*time.Second, want: "10m"},
		{name: "minutes up to three hours", d: 179 * time.Minute, want: "179m"},
		{name: "hours with minutes", d: 3*time.Hour + 4*time.Minute, want: "3h4m"},
		{name: "whole hours", d: 5 * time.Hour, want: "5h"},
		{name: "hours up to two days", d: 47*time.Hour + 59*time.Minute, want: "47h"},
		{name: "days with hours", d: 2*24*time.Hour + 3*time.Hour, want: "2d3h"},
		{name: "whole days", d: 5 * 24 * time.Hour, want: "5d"},
		{name: "days up to two years", d: 400 * 24 * time.Hour, want: "400d"},
		{name: "years with days", d: (2*365 + 10) * 24 * time.Hour, want: "2y10d"},
		{name: "many years", d: 9 * 365 * 24 * time.Hour, want: "9y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := humanDuration(tc.d); got != tc.want {
				t.Errorf("humanDuration(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

func TestPrintObjectsFormats(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	pi := &api.Object{Kind: &api.Object_Job{Job: &api.Job{Metadata: &api.ObjectMeta{Name: "pi", CreationTimestamp: ts(now, -time.Minute)}}}}
	e := &api.Object{Kind: &api.Object_Job{Job: &api.Job{Metadata: &api.ObjectMeta{Name: "e"}}}}
	tests := []struct {
		name       string
		r          *api.Resource
		objs       []*api.Object
		format     string
		single     bool
		wantOut    string
		wantErrOut string
	}{
		{name: "names of jobs", r: api.JobResource, objs: []*api.Object{e, pi}, format: outputName,
			wantOut: "job.batch/e\njob.batch/pi\n"},
		{name: "empty list of jobs", r: api.JobResource, format: outputTable,
			wantErrOut: "No resources found in default namespace.\n"},
		{name: "empty list of nodes", r: api.NodeResource, format: outputWide,
			wantErrOut: "No resources found\n"},
		{name: "table of one job", r: api.JobResource, objs: []*api.Object{pi}, format: outputTable, single: true,
			wantOut: "NAME   STATUS    COMPLETIONS   DURATION   AGE\npi     Running   0/1                      60s\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := printObjects(&out, &errOut, tc.r, tc.objs, tc.format, tc.single, now, scope{namespace: "default"}); err != nil {
				t.Fatalf("printObjects: %v", err)
			}
			if diff := cmp.Diff(tc.wantOut, out.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantErrOut, errOut.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrintObjectsJSON(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	pi := &api.Object{Kind: &api.Object_Job{Job: &api.Job{Metadata: &api.ObjectMeta{Name: "pi"}}}}
	e := &api.Object{Kind: &api.Object_Job{Job: &api.Job{Metadata: &api.ObjectMeta{Name: "e"}}}}
	type shape struct {
		Kind     string
		Metadata struct{ Name string }
		Items    []struct{ Metadata struct{ Name string } }
	}
	tests := []struct {
		name      string
		objs      []*api.Object
		single    bool
		wantKind  string
		wantName  string
		wantItems int
	}{
		{name: "one named object prints the object", objs: []*api.Object{pi}, single: true, wantKind: "Job", wantName: "pi"},
		{name: "a listing prints a List", objs: []*api.Object{e, pi}, wantKind: "List", wantItems: 2},
		{name: "an empty listing prints an empty List", objs: nil, wantKind: "List"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := printObjects(&out, &errOut, api.JobResource, tc.objs, outputJSON, tc.single, now, scope{namespace: "default"}); err != nil {
				t.Fatalf("printObjects: %v", err)
			}
			var got shape
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if got.Kind != tc.wantKind || got.Metadata.Name != tc.wantName || len(got.Items) != tc.wantItems {
				t.Errorf("got kind %q name %q with %d items, want kind %q name %q with %d items\n%s",
					got.Kind, got.Metadata.Name, len(got.Items), tc.wantKind, tc.wantName, tc.wantItems, out.String())
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", errOut.String())
			}
		})
	}
}

func TestCheckOutput(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		wantErr string
	}{
		{name: "table", format: ""},
		{name: "wide", format: "wide"},
		{name: "jsonpath with a template", format: "jsonpath={.items[*].metadata.name}"},
		{name: "custom columns", format: "custom-columns=NAME:.metadata.name"},
		{name: "jsonpath without a template", format: "jsonpath",
			wantErr: `unable to match a printer suitable for the output format "jsonpath", allowed formats are: wide,json,yaml,name,jsonpath=TEMPLATE,custom-columns=SPEC`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkOutput(tc.format, outputTable, outputWide, outputJSON, outputYAML, outputName)
			if got := errorString(err); got != tc.wantErr {
				t.Errorf("checkOutput(%q) = %q, want %q", tc.format, got, tc.wantErr)
			}
		})
	}
}
