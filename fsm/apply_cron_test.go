package fsm

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

func TestUpsertCronJob(t *testing.T) {
	scheduled := newCronJob("tick")
	scheduled.Metadata.Generation = 1
	scheduled.Status = &api.CronJobStatus{LastScheduleTime: timestamppb.New(t0.Add(time.Minute))}
	impostor := newCronJob("tick")
	impostor.Metadata.Uid, impostor.Metadata.CreationTimestamp = "uid-impostor", at(99)
	impostor.Spec.Schedule = "@hourly"
	impostor.Status = &api.CronJobStatus{LastScheduleTime: at(9999)}
	updated := proto.Clone(scheduled).(*api.CronJob)
	updated.Spec.Schedule = "@hourly"
	updated.Metadata.Generation = 2
	created := newCronJob("tick")
	created.Metadata.Generation = 1

	tests := []struct {
		name    string
		setup   []*api.Command
		cmd     *api.Command
		wantErr error
		want    *api.CronJob
	}{
		{name: "new cronjob", cmd: upsertCronJob(newCronJob("tick"), true), want: created},
		{
			name:  "update keeps uid, creation time and status",
			setup: []*api.Command{upsertCronJob(newCronJob("tick"), true), cronDecision("tick", 1, "MissSchedule", nil)},
			cmd:   upsertCronJob(impostor, false),
			want:  updated,
		},
		{
			name:    "create only on an existing name",
			setup:   []*api.Command{upsertCronJob(newCronJob("tick"), true), cronDecision("tick", 1, "MissSchedule", nil)},
			cmd:     upsertCronJob(impostor, true),
			wantErr: ErrAlreadyExists,
			want:    scheduled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(tt.setup...)
			if err := h.apply(tt.cmd)[0]; !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := diffObjects(tt.want, h.state().CronJob("", "tick"), ignoreVersion); diff != "" {
				t.Errorf("stored cronjob (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeleteCronJob(t *testing.T) {
	first, second := cronJobAt("tick", 1), cronJobAt("tick", 2)
	foreign := cronJobAt("other", 1)
	manual := newJob("manual")
	// A Job may name the CronJob in an owner reference of another kind.
	lookalike := newJob("lookalike")
	lookalike.Metadata.OwnerReferences = []*api.OwnerReference{{Kind: "Deployment", Name: "tick"}}
	setup := []*api.Command{
		upsertCronJob(newCronJob("tick"), true), upsertCronJob(newCronJob("other"), true),
		cronDecision("tick", 1, "Created", first), cronDecision("tick", 2, "Created", second),
		cronDecision("other", 1, "Created", foreign),
		upsertJob(manual, true), upsertJob(lookalike, true),
		createPods(newPod(first, "first-pod", -1), newPod(second, "second-pod", -1), newPod(foreign, "foreign-pod", -1), newPod(manual, "manual-pod", -1)),
		recordEvents(
			newEvent("tick.a", "CronJob", "tick", "SuccessfulCreate", 1),
			newEvent("first.a", "Job", first.GetMetadata().GetName(), "SuccessfulCreate", 1),
			newEvent("first-pod.a", "Pod", "first-pod", "Scheduled", 1),
			newEvent("other.a", "CronJob", "other", "SuccessfulCreate", 1),
		),
	}
	tests := []struct {
		name    string
		cmd     *api.Command
		wantErr error
		want    left
	}{
		{
			name: "cascades to its Jobs and their pods",
			cmd:  deleteCronJob("tick"),
			want: left{
				jobs:   []string{"lookalike", "manual", foreign.GetMetadata().GetName()},
				pods:   []string{"foreign-pod", "manual-pod"},
				events: []string{"other"},
			},
		},
		{
			name:    "missing cronjob",
			cmd:     deleteCronJob("nope"),
			wantErr: ErrNotFound,
			want: left{
				jobs:   []string{"lookalike", "manual", foreign.GetMetadata().GetName(), first.GetMetadata().GetName(), second.GetMetadata().GetName()},
				pods:   []string{"first-pod", "foreign-pod", "manual-pod", "second-pod"},
				events: []string{"first-pod", "other", "tick", first.GetMetadata().GetName()},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(setup...)
			if err := h.apply(tt.cmd)[0]; !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, leftIn(h.state()), cmp.AllowUnexported(left{})); diff != "" {
				t.Errorf("objects left (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCronDecision(t *testing.T) {
	name := func(min int) string { return cronJobAt("tick", min).GetMetadata().GetName() }
	remade := cronJobAt("tick", 1)
	remade.Metadata.Uid = "uid-remade"
	tests := []struct {
		name     string
		steps    []*api.Command // each applied in its own log entry
		wantErr  error          // of the last step
		wantJobs []string
		wantLast int // lastScheduleTime in minutes after t0, -1 for none
	}{
		{
			name:     "creates the Job for the scheduled time",
			steps:    []*api.Command{cronDecision("tick", 1, "Created", cronJobAt("tick", 1))},
			wantJobs: []string{name(1)}, wantLast: 1,
		},
		{
			name:     "a skipped run creates nothing and moves lastScheduleTime",
			steps:    []*api.Command{cronDecision("tick", 1, "MissSchedule", nil)},
			wantJobs: []string{}, wantLast: 1,
		},
		{
			name:     "applied twice creates the Job once",
			steps:    []*api.Command{cronDecision("tick", 1, "Created", cronJobAt("tick", 1)), cronDecision("tick", 1, "Created", cronJobAt("tick", 1))},
			wantJobs: []string{name(1)}, wantLast: 1,
		},
		{
			name:     "re-made by a new leader after a later decision",
			steps:    []*api.Command{cronDecision("tick", 1, "Created", cronJobAt("tick", 1)), cronDecision("tick", 2, "Created", cronJobAt("tick", 2)), cronDecision("tick", 1, "Created", remade)},
			wantJobs: []string{name(1), name(2)}, wantLast: 2,
		},
		{
			name: "replayed after its Job was replaced",
			steps: []*api.Command{
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
				cronDecision("tick", 2, "Created", cronJobAt("tick", 2), name(1)),
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
			},
			wantJobs: []string{name(2)}, wantLast: 2,
		},
		{
			name: "replayed after history cleanup deleted its Job",
			steps: []*api.Command{
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
				deleteJob(name(1), ""),
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
			},
			wantJobs: []string{}, wantLast: 1,
		},
		{
			name:     "lastScheduleTime only moves forward",
			steps:    []*api.Command{cronDecision("tick", 3, "JobAlreadyActive", nil), cronDecision("tick", 2, "MissSchedule", nil)},
			wantJobs: []string{}, wantLast: 3,
		},
		{
			name: "Replace deletes the listed Jobs",
			steps: []*api.Command{
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
				cronDecision("tick", 2, "Created", cronJobAt("tick", 2)),
				cronDecision("tick", 3, "Created", cronJobAt("tick", 3), name(1), name(2), "already-gone"),
			},
			wantJobs: []string{name(3)}, wantLast: 3,
		},
		{
			name: "a run withdrawn before its time gives lastScheduleTime back",
			steps: []*api.Command{
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
				cronDecision("tick", 2, "Created", cronJobAt("tick", 2)),
				cronDecision("tick", 2, "Withdrawn", nil),
				deleteJob(name(2), ""),
			},
			wantJobs: []string{name(1)}, wantLast: 1,
		},
		{
			name: "back past the times decided Suspended",
			steps: []*api.Command{
				cronDecision("tick", 1, "MissSchedule", nil),
				cronDecision("tick", 2, "Suspended", nil),
				cronDecision("tick", 3, "Created", cronJobAt("tick", 3)),
				cronDecision("tick", 3, "Withdrawn", nil),
			},
			wantJobs: []string{name(3)}, wantLast: 1,
		},
		{
			name: "the first run withdrawn leaves none",
			steps: []*api.Command{
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
				cronDecision("tick", 1, "Withdrawn", nil),
				deleteJob(name(1), ""),
			},
			wantJobs: []string{}, wantLast: -1,
		},
		{
			name: "a withdrawal applied twice, then the withdrawn decision replayed",
			steps: []*api.Command{
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
				cronDecision("tick", 2, "Created", cronJobAt("tick", 2)),
				cronDecision("tick", 2, "Withdrawn", nil),
				deleteJob(name(2), ""),
				cronDecision("tick", 2, "Withdrawn", nil),
				cronDecision("tick", 2, "Created", cronJobAt("tick", 2)),
			},
			wantJobs: []string{name(1)}, wantLast: 1,
		},
		{
			name: "withdrawing a time never decided changes nothing",
			steps: []*api.Command{
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
				cronDecision("tick", 2, "Withdrawn", nil),
			},
			wantJobs: []string{name(1)}, wantLast: 1,
		},
		{
			name:     "unknown cronjob",
			steps:    []*api.Command{cronDecision("nope", 1, "Created", cronJobAt("nope", 1))},
			wantErr:  ErrNotFound,
			wantJobs: []string{}, wantLast: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(upsertCronJob(newCronJob("tick"), true))
			var err error
			for _, step := range tt.steps {
				err = h.apply(step)[0]
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("last step: error = %v, want %v", err, tt.wantErr)
			}
			s := h.state()
			gotJobs := names(s.Jobs())
			if diff := cmp.Diff(tt.wantJobs, gotJobs); diff != "" {
				t.Errorf("jobs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantJobs, names(s.JobsOfCronJob("", "tick"))); diff != "" {
				t.Errorf("JobsOfCronJob (-want +got):\n%s", diff)
			}
			gotLast := -1
			if last := s.CronJob("", "tick").GetStatus().GetLastScheduleTime(); last != nil {
				gotLast = int(last.AsTime().Sub(t0) / time.Minute)
			}
			if gotLast != tt.wantLast {
				t.Errorf("lastScheduleTime = minute %d, want %d", gotLast, tt.wantLast)
			}
			for _, j := range s.Jobs() {
				if uid := j.GetMetadata().GetUid(); uid != "uid-"+j.GetMetadata().GetName() {
					t.Errorf("job %s has uid %q: a later decision replaced it", j.GetMetadata().GetName(), uid)
				}
			}
		})
	}
}

func TestCronDecisionStoresTheJob(t *testing.T) {
	h := newHarness(t)
	job := cronJobAt("tick", 1)
	h.must(upsertCronJob(newCronJob("tick"), true), cronDecision("tick", 1, "Created", job))
	if diff := diffObjects(stored(job, 1), h.state().Job("", job.GetMetadata().GetName()), ignoreVersion); diff != "" {
		t.Errorf("created job (-want +got):\n%s", diff)
	}
}

func TestCronDecisionReplaceRemovesPods(t *testing.T) {
	h := newHarness(t)
	old := cronJobAt("tick", 1)
	h.must(upsertCronJob(newCronJob("tick"), true), cronDecision("tick", 1, "Created", old))
	h.must(createPods(newPod(old, "old-pod", -1)), recordEvents(newEvent("old-pod.a", "Pod", "old-pod", "Scheduled", 1)))
	h.must(cronDecision("tick", 2, "Created", cronJobAt("tick", 2), old.GetMetadata().GetName()))
	s := h.state()
	if got := names(s.Pods()); len(got) != 0 {
		t.Errorf("pods left after Replace: %v", got)
	}
	if got := s.Events("Pod", "", "old-pod"); len(got) != 0 {
		t.Errorf("%d events of the replaced Job's pod left", len(got))
	}
}

func TestUpdateCronJobStatus(t *testing.T) {
	minute := func(m int) *timestamppb.Timestamp { return timestamppb.New(t0.Add(time.Duration(m) * time.Minute)) }
	active := []*api.ObjectReference{{ApiVersion: "batch/v1", Kind: "Job", Name: "tick-1", Uid: "uid-tick-1"}}
	tests := []struct {
		name    string
		setup   []*api.Command
		cmd     *api.Command
		wantErr error
		want    *api.CronJobStatus
	}{
		{
			name: "replaces the status",
			cmd:  updateCronJobStatus("tick", "uid-tick", &api.CronJobStatus{Active: active, LastScheduleTime: minute(1), LastSuccessfulTime: minute(2)}),
			want: &api.CronJobStatus{Active: active, LastScheduleTime: minute(1), LastSuccessfulTime: minute(2)},
		},
		{
			name:  "lastScheduleTime does not move back",
			setup: []*api.Command{cronDecision("tick", 5, "MissSchedule", nil)},
			cmd:   updateCronJobStatus("tick", "uid-tick", &api.CronJobStatus{Active: active, LastScheduleTime: minute(1)}),
			want:  &api.CronJobStatus{Active: active, LastScheduleTime: minute(5)},
		},
		{
			name:  "a status without lastScheduleTime keeps it",
			setup: []*api.Command{cronDecision("tick", 5, "MissSchedule", nil)},
			cmd:   updateCronJobStatus("tick", "uid-tick", nil),
			want:  &api.CronJobStatus{LastScheduleTime: minute(5)},
		},
		{
			name: "nor to a run withdrawn since the status was computed",
			setup: []*api.Command{
				cronDecision("tick", 1, "Created", cronJobAt("tick", 1)),
				cronDecision("tick", 2, "Created", cronJobAt("tick", 2)),
				cronDecision("tick", 2, "Withdrawn", nil),
			},
			cmd:  updateCronJobStatus("tick", "uid-tick", &api.CronJobStatus{Active: active, LastScheduleTime: minute(2)}),
			want: &api.CronJobStatus{Active: active, LastScheduleTime: minute(1)},
		},
		{name: "another uid is a conflict", cmd: updateCronJobStatus("tick", "uid-old", &api.CronJobStatus{Active: active}), wantErr: ErrConflict},
		{name: "missing cronjob", cmd: updateCronJobStatus("nope", "uid-nope", &api.CronJobStatus{}), wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(upsertCronJob(newCronJob("tick"), true))
			h.must(tt.setup...)
			if err := h.apply(tt.cmd)[0]; !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := diffObjects(tt.want, h.state().CronJob("", "tick").GetStatus()); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

// The cron controller proposes a decision and the status it implies in one
// batch, decision first; the Job must be created.
func TestCronDecisionWithStatusInOneBatch(t *testing.T) {
	h := newHarness(t)
	job := cronJobAt("tick", 1)
	status := &api.CronJobStatus{
		LastScheduleTime: timestamppb.New(t0.Add(time.Minute)),
		Active:           []*api.ObjectReference{{Kind: "Job", Name: job.GetMetadata().GetName(), Uid: job.GetMetadata().GetUid()}},
	}
	h.must(upsertCronJob(newCronJob("tick"), true))
	h.must(cronDecision("tick", 1, "Created", job), updateCronJobStatus("tick", "uid-tick", status))
	if diff := cmp.Diff([]string{job.GetMetadata().GetName()}, names(h.state().JobsOfCronJob("", "tick"))); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if diff := diffObjects(status, h.state().CronJob("", "tick").GetStatus()); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

// A withdrawn run stays in the CronJob's history, as Withdrawn.
func TestCronWithdrawalIsInTheLedger(t *testing.T) {
	h := newHarness(t)
	h.must(upsertCronJob(newCronJob("tick"), true))
	h.must(cronDecision("tick", 1, "Created", cronJobAt("tick", 1)), cronDecision("tick", 2, "Created", cronJobAt("tick", 2)))
	h.must(cronDecision("tick", 2, "Withdrawn", nil), deleteJob(cronJobAt("tick", 2).GetMetadata().GetName(), ""))
	var got []string
	for _, e := range h.state().CronLedger("", "tick") {
		got = append(got, fmt.Sprintf("%d %s %s", e.GetScheduledTime().AsTime().Sub(t0)/time.Minute, e.GetAction(), e.GetJob()))
	}
	want := []string{"2 Withdrawn " + cronJobAt("tick", 2).GetMetadata().GetName(), "1 Created " + cronJobAt("tick", 1).GetMetadata().GetName()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ledger, newest first (-want +got):\n%s", diff)
	}
	if next := h.state().LastCronDecision("", "tick"); !next.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("LastCronDecision = %v, want minute 2: a withdrawn time is decided and never run again", next)
	}
}
