package api

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// storedJob is a Job as the server holds it: uid, timestamps, status.
func storedJob() *Job {
	j := validJob()
	cest := time.FixedZone("CEST", 2*3600)
	j.Metadata.Uid = "5d1f"
	j.Metadata.CreationTimestamp = timestamppb.New(time.Date(2024, 5, 1, 10, 0, 0, 500000000, cest))
	j.Spec.TtlSecondsAfterFinished = proto.Int32(0)
	setJobDefaults(j)
	j.Status = &JobStatus{
		StartTime:        timestamppb.New(time.Date(2024, 5, 1, 8, 0, 1, 0, time.UTC)),
		Succeeded:        5,
		CompletedIndexes: "0-2,5",
		Conditions: []*JobCondition{{
			Type: JobComplete, Status: "True",
			LastTransitionTime: timestamppb.New(time.Date(2024, 5, 1, 8, 0, 9, 123456789, time.UTC)),
		}},
	}
	return j
}

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		want string
	}{
		{
			name: "job with apiVersion and kind filled, 64-bit numbers, UTC timestamps and zero optionals",
			msg: &Job{
				Metadata: &ObjectMeta{
					Name:              "pi",
					CreationTimestamp: timestamppb.New(time.Date(2024, 5, 1, 10, 0, 0, 500000000, time.FixedZone("CEST", 2*3600))),
					Labels:            map[string]string{"b": "2", "a": "1"},
					Generation:        2,
				},
				Spec: &JobSpec{
					ActiveDeadlineSeconds: proto.Int64(9007199254740993),
					BackoffLimit:          proto.Int32(0),
					Suspend:               proto.Bool(false),
					Template: &PodTemplateSpec{Spec: &PodSpec{Containers: []*Container{
						{Name: "c", Command: []string{"sh", "-c", "true && echo <ok>"}},
					}}},
				},
				Status: &JobStatus{Active: 1},
			},
			want: `{
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {
        "name": "pi",
        "creationTimestamp": "2024-05-01T08:00:00.5Z",
        "labels": {
            "a": "1",
            "b": "2"
        },
        "generation": 2
    },
    "spec": {
        "activeDeadlineSeconds": 9007199254740993,
        "backoffLimit": 0,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "command": [
                            "sh",
                            "-c",
                            "true && echo <ok>"
                        ]
                    }
                ]
            }
        },
        "suspend": false
    },
    "status": {
        "active": 1
    }
}`,
		},
		{
			name: "member applied index is a number",
			msg:  &Member{Name: "s1", Role: "server", Leader: true, AppliedIndex: 12},
			want: `{
    "name": "s1",
    "role": "server",
    "leader": true,
    "appliedIndex": 12
}`,
		},
		{
			name: "object prints the pod inside with its kind",
			msg: &Object{Kind: &Object_Pod{Pod: &Pod{
				Metadata: &ObjectMeta{Name: "pi-abc"},
				Status:   &PodStatus{Phase: PodRunning, HostIp: "127.0.0.1"},
			}}},
			want: `{
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "pi-abc"
    },
    "status": {
        "phase": "Running",
        "hostIP": "127.0.0.1",
        "podIP": "127.0.0.1",
        "podIPs": [
            {
                "ip": "127.0.0.1"
            }
        ]
    }
}`,
		},
		{
			name: "empty message set",
			msg:  &CronJob{ApiVersion: "batch/v1beta1", Kind: "CronJob", Status: &CronJobStatus{}},
			want: `{
    "apiVersion": "batch/v1beta1",
    "kind": "CronJob",
    "status": {}
}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MarshalJSON(tt.msg)
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("JSON differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalYAML(t *testing.T) {
	got, err := MarshalYAML(&Member{Name: "s1", AppliedIndex: 18446744073709551615, RaftState: "Leader"})
	if err != nil {
		t.Fatal(err)
	}
	want := "appliedIndex: 18446744073709551615\nname: s1\nraftState: Leader\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("YAML differs (-want +got):\n%s", diff)
	}
}

func TestMarshalList(t *testing.T) {
	items := []proto.Message{
		&Object{Kind: &Object_Node{Node: &Node{Metadata: &ObjectMeta{Name: "n1"}}}},
		&Member{Name: "s1"},
	}
	got, err := MarshalListJSON(items)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "n1"
            }
        },
        {
            "name": "s1"
        }
    ],
    "kind": "List",
    "metadata": {
        "resourceVersion": ""
    }
}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("JSON differs (-want +got):\n%s", diff)
	}
	gotYAML, err := MarshalListYAML(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantYAML := "apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"
	if diff := cmp.Diff(wantYAML, string(gotYAML)); diff != "" {
		t.Errorf("YAML differs (-want +got):\n%s", diff)
	}
}

func TestToMap(t *testing.T) {
	got := ToMap(&Member{Name: "s1", AppliedIndex: 7})
	want := map[string]any{"name": "s1", "appliedIndex": uint64(7)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("map differs (-want +got):\n%s", diff)
	}
}

// TestRoundTrip prints objects and decodes the output again: kubectl users
// save `get -o json` output and submit it.
func TestRoundTrip(t *testing.T) {
	var objects []*Object
	for _, file := range []string{"job.yaml", "cronjob.yaml", "multi.yaml"} {
		objs, err := DecodeManifests(readTestdata(t, file))
		if err != nil {
			t.Fatalf("decode %s: %v", file, err)
		}
		objects = append(objects, objs...)
	}
	objects = append(objects, &Object{Kind: &Object_Job{Job: storedJob()}})
	for _, obj := range objects {
		for format, marshal := range map[string]func(proto.Message) ([]byte, error){"json": MarshalJSON, "yaml": MarshalYAML} {
			t.Run(KindOf(obj)+"/"+NameOf(obj)+"/"+format, func(t *testing.T) {
				out, err := marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				back, err := DecodeManifests(out)
				if err != nil {
					t.Fatalf("decode printed object: %v\n%s", err, out)
				}
				if diff := cmp.Diff([]*Object{obj}, back, protocmp.Transform()); diff != "" {
					t.Errorf("object changed in a round trip (-before +after):\n%s", diff)
				}
			})
		}
	}
}

func TestCompletedIndexes(t *testing.T) {
	tests := []struct {
		name    string
		indexes []int
		want    string
	}{
		{name: "none", want: ""},
		{name: "one", indexes: []int{4}, want: "4"},
		{name: "run of three becomes a range", indexes: []int{0, 1, 2, 5}, want: "0-2,5"},
		{name: "two neighbours stay a list", indexes: []int{1, 2}, want: "1,2"},
		{name: "several runs", indexes: []int{0, 1, 2, 5, 7, 8, 9}, want: "0-2,5,7-9"},
		{name: "unsorted with duplicates", indexes: []int{9, 7, 8, 8, 3}, want: "3,7-9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatCompletedIndexes(tt.indexes)
			if got != tt.want {
				t.Errorf("FormatCompletedIndexes(%v) = %q, want %q", tt.indexes, got, tt.want)
			}
			back, err := ParseCompletedIndexes(got)
			if err != nil {
				t.Fatalf("ParseCompletedIndexes(%q): %v", got, err)
			}
			if FormatCompletedIndexes(back) != tt.want {
				t.Errorf("ParseCompletedIndexes(%q) = %v, formats back to %q", got, back, FormatCompletedIndexes(back))
			}
		})
	}
	for _, bad := range []string{"a", "1-", "3-1", "2,1", "1,,2", "-1", "100000"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			if got, err := ParseCompletedIndexes(bad); err == nil {
				t.Errorf("ParseCompletedIndexes(%q) = %v, want an error", bad, got)
			}
		})
	}
}

func TestJobStatusHelpers(t *testing.T) {
	j := storedJob()
	if typ, ok := JobFinished(j); !ok || typ != JobComplete {
		t.Errorf("JobFinished = %q, %v; want Complete, true", typ, ok)
	}
	if c := FindJobCondition(j.Status, JobFailed); c != nil {
		t.Errorf("FindJobCondition(Failed) = %v, want nil", c)
	}
	if c, ok := JobCompletions(j); !ok || c != 5 {
		t.Errorf("JobCompletions = %d, %v; want 5, true", c, ok)
	}
	if p := JobParallelism(&Job{}); p != 1 {
		t.Errorf("JobParallelism of an empty Job = %d, want 1", p)
	}
	if _, ok := JobCompletions(&Job{}); ok {
		t.Error("JobCompletions of an empty Job reports set")
	}
	if !IsPodTerminal(&Pod{Status: &PodStatus{Phase: PodFailed}}) || IsPodTerminal(&Pod{}) {
		t.Error("IsPodTerminal wrong for Failed or empty pod")
	}
}
