package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// manifestJob is storedJob as a user would apply it again: no uid,
// selector, status or generated labels.
func manifestJob() *Job {
	j := validJob()
	j.Spec.TtlSecondsAfterFinished = proto.Int32(0)
	return j
}

func TestUpdateJob(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(j *Job)
		wantChanged bool
		wantSpec    func(j *Job) // applied to the stored job to get the expected result
		wantErr     []string
	}{
		{
			name:   "same manifest changes nothing",
			mutate: func(*Job) {},
		},
		{
			name: "mutable fields are taken",
			mutate: func(j *Job) {
				j.Spec.Parallelism = proto.Int32(4)
				j.Spec.Suspend = proto.Bool(true)
				j.Spec.TtlSecondsAfterFinished = nil
			},
			wantChanged: true,
			wantSpec: func(j *Job) {
				j.Spec.Parallelism = proto.Int32(4)
				j.Spec.Suspend = proto.Bool(true)
				j.Spec.TtlSecondsAfterFinished = nil
			},
		},
		{
			name:        "labels may change",
			mutate:      func(j *Job) { j.Metadata.Labels = map[string]string{"team": "a"} },
			wantChanged: true,
			wantSpec:    func(j *Job) { j.Metadata.Labels = map[string]string{"team": "a"} },
		},
		{
			name:    "completions are immutable",
			mutate:  func(j *Job) { j.Spec.Completions = proto.Int32(3) },
			wantErr: []string{"spec.completions: Invalid value: 3: field is immutable"},
		},
		{
			name: "template changes point at the edited field",
			mutate: func(j *Job) {
				j.Spec.Template.Spec.Containers[0].Command = []string{"sh", "-c", "exit 1"}
				j.Spec.Template.Spec.RestartPolicy = "OnFailure"
				j.Spec.Parallelism = proto.Int32(9)
			},
			wantErr: []string{
				`spec.template.spec.containers[0].command: Invalid value: ["sh","-c","exit 1"]: field is immutable`,
				`spec.template.spec.restartPolicy: Invalid value: "OnFailure": field is immutable`,
			},
		},
		{
			name:    "completion mode is immutable",
			mutate:  func(j *Job) { j.Spec.CompletionMode = proto.String("Indexed") },
			wantErr: []string{`spec.completionMode: Invalid value: "Indexed": field is immutable`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedJob()
			updated := manifestJob()
			tt.mutate(updated)
			setJobDefaults(updated)

			got, changed, err := UpdateJob(old, updated)
			if diff := cmp.Diff(tt.wantErr, errLines(err)); diff != "" {
				t.Errorf("errors differ (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			want := storedJob()
			if tt.wantSpec != nil {
				tt.wantSpec(want)
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("updated job differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateJobLeavesInputsAlone(t *testing.T) {
	old, updated := storedJob(), manifestJob()
	updated.Spec.Parallelism = proto.Int32(7)
	oldCopy, updatedCopy := proto.Clone(old), proto.Clone(updated)
	if _, _, err := UpdateJob(old, updated); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(old, oldCopy) || !proto.Equal(updated, updatedCopy) {
		t.Error("UpdateJob modified its inputs")
	}
}

func TestUpdateCronJob(t *testing.T) {
	tests := []struct {
		name        string
		mutate      func(c *CronJob)
		wantChanged bool
	}{
		{name: "same manifest changes nothing", mutate: func(*CronJob) {}},
		{name: "schedule", mutate: func(c *CronJob) { c.Spec.Schedule = "@hourly" }, wantChanged: true},
		{name: "time zone", mutate: func(c *CronJob) { c.Spec.TimeZone = proto.String("Europe/Berlin") }, wantChanged: true},
		{name: "suspend", mutate: func(c *CronJob) { c.Spec.Suspend = proto.Bool(true) }, wantChanged: true},
		{name: "history limit", mutate: func(c *CronJob) { c.Spec.SuccessfulJobsHistoryLimit = proto.Int32(0) }, wantChanged: true},
		{
			name:        "job template",
			mutate:      func(c *CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Command = []string{"true"} },
			wantChanged: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validCronJob()
			old.Metadata.Uid = "c1"
			old.Status = &CronJobStatus{Active: []*ObjectReference{{Name: "hello-28000000"}}}
			updated := validCronJob()
			tt.mutate(updated)

			got, changed, err := UpdateCronJob(old, updated)
			if err != nil {
				t.Fatalf("UpdateCronJob: %v", err)
			}
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			want := proto.Clone(updated).(*CronJob)
			want.Metadata.Uid = "c1"
			want.Status = old.Status
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("updated cronjob differs (-want +got):\n%s", diff)
			}
		})
	}
}
