package fsm

import (
	"errors"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// stored is job as the FSM keeps it: with its generation.
func stored(job *api.Job, generation int64) *api.Job {
	out := proto.Clone(job).(*api.Job)
	out.Metadata.Generation = generation
	return out
}

func TestUpsertJob(t *testing.T) {
	running := &api.JobStatus{Active: 1, StartTime: at(2)}
	impostor := newJob("a", parallelism(3))
	impostor.Metadata.Uid = "uid-impostor"
	impostor.Metadata.CreationTimestamp = at(99)
	impostor.Status = &api.JobStatus{Succeeded: 7}
	wantUpdated := stored(newJob("a", parallelism(3)), 2)
	wantUpdated.Status = running

	tests := []struct {
		name    string
		setup   []*api.Command
		cmd     *api.Command
		wantErr error
		want    *api.Job
	}{
		{name: "new job", cmd: upsertJob(newJob("a"), true), want: stored(newJob("a"), 1)},
		{name: "update of a missing job creates it", cmd: upsertJob(newJob("a"), false), want: stored(newJob("a"), 1)},
		{
			name:  "update keeps uid, creation time and status",
			setup: []*api.Command{upsertJob(newJob("a"), true), updateJobStatus("a", "uid-a", running)},
			cmd:   upsertJob(impostor, false),
			want:  wantUpdated,
		},
		{
			name:  "update with the same spec keeps the generation",
			setup: []*api.Command{upsertJob(newJob("a"), true)},
			cmd:   upsertJob(newJob("a"), false),
			want:  stored(newJob("a"), 1),
		},
		{
			name:    "create only on an existing name",
			setup:   []*api.Command{upsertJob(newJob("a"), true)},
			cmd:     upsertJob(impostor, true),
			wantErr: ErrAlreadyExists,
			want:    stored(newJob("a"), 1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(tt.setup...)
			if err := h.apply(tt.cmd)[0]; !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := diffObjects(tt.want, h.state().Job("", "a"), ignoreVersion); diff != "" {
				t.Errorf("stored job (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefusedCommandLeavesTheRestOfTheBatch(t *testing.T) {
	h := newHarness(t)
	h.must(upsertJob(newJob("a"), true))
	b := newJob("b")
	errs := h.apply(upsertJob(newJob("a", parallelism(5)), true), upsertJob(b, true), createPods(pods(b, 1)...))
	if !errors.Is(errs[0], ErrAlreadyExists) {
		t.Errorf("first command: error = %v, want ErrAlreadyExists", errs[0])
	}
	if errs[1] != nil || errs[2] != nil {
		t.Errorf("other commands: errors = %v, want none", errs[1:])
	}
	s := h.state()
	if diff := cmp.Diff([]string{"a", "b"}, names(s.Jobs())); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b-0"}, names(s.PodsOfJob("", "b"))); diff != "" {
		t.Errorf("pods of b (-want +got):\n%s", diff)
	}
	if got := s.Job("", "a").GetSpec().GetParallelism(); got != 1 {
		t.Errorf("refused create changed parallelism of a to %d", got)
	}
}

func TestDeleteJob(t *testing.T) {
	a, other := newJob("a", parallelism(2), completions(2)), newJob("other")
	setup := []*api.Command{
		upsertJob(a, true), upsertJob(other, true),
		createPods(append(pods(a, 2), pods(other, 1)...)...),
		recordEvents(
			newEvent("a.create", "Job", "a", "SuccessfulCreate", 1),
			newEvent("a-0.sched", "Pod", "a-0", "Scheduled", 2),
			newEvent("a-1.sched", "Pod", "a-1", "Scheduled", 2),
			newEvent("other.create", "Job", "other", "SuccessfulCreate", 1),
			newEvent("other-0.sched", "Pod", "other-0", "Scheduled", 2),
		),
	}
	all := left{jobs: []string{"a", "other"}, pods: []string{"a-0", "a-1", "other-0"}, events: []string{"a", "a-0", "a-1", "other", "other-0"}}
	others := left{jobs: []string{"other"}, pods: []string{"other-0"}, events: []string{"other", "other-0"}}
	tests := []struct {
		name    string
		cmd     *api.Command
		wantErr error
		want    left
	}{
		{name: "cascades to pods and events", cmd: deleteJob("a", "uid-a"), want: others},
		{name: "without uid deletes by name", cmd: deleteJob("a", ""), want: others},
		{name: "another uid is a conflict", cmd: deleteJob("a", "uid-old"), wantErr: ErrConflict, want: all},
		{name: "missing job", cmd: deleteJob("nope", ""), wantErr: ErrNotFound, want: all},
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

// left names the jobs, pods and the subjects of events in a state.
type left struct{ jobs, pods, events []string }

func leftIn(s *State) left {
	l := left{jobs: names(s.Jobs()), pods: names(s.Pods()), events: []string{}}
	for _, e := range s.AllEvents() {
		l.events = append(l.events, e.GetInvolvedObject().GetName())
	}
	sort.Strings(l.events)
	return l
}

func TestUpdateJobStatus(t *testing.T) {
	condition := func(typ string) *api.JobCondition {
		return &api.JobCondition{Type: typ, Status: "True", LastTransitionTime: at(5), Reason: typ + "Reason"}
	}
	progress := &api.JobStatus{Active: 1, Succeeded: 2, Failed: 1, StartTime: at(2)}
	complete := &api.JobStatus{Succeeded: 3, StartTime: at(2), CompletionTime: at(9),
		Conditions: []*api.JobCondition{condition(api.JobSuccessCriteriaMet), condition(api.JobComplete)}}
	failed := &api.JobStatus{Failed: 7, StartTime: at(2), Conditions: []*api.JobCondition{condition(api.JobFailed)}}
	failing := &api.JobStatus{Failed: 7, StartTime: at(2), Conditions: []*api.JobCondition{condition(api.JobFailureTarget)}}
	failedAfterTarget := &api.JobStatus{Failed: 7, StartTime: at(2), Conditions: []*api.JobCondition{condition(api.JobFailureTarget), condition(api.JobFailed)}}
	meeting := &api.JobStatus{Succeeded: 2, Conditions: []*api.JobCondition{condition(api.JobSuccessCriteriaMet)}}
	progressMeeting := proto.Clone(progress).(*api.JobStatus)
	progressMeeting.Conditions = meeting.Conditions
	stale := &api.JobStatus{Active: 2, Succeeded: 1, Failed: 0, StartTime: at(2)}
	staleMerged := &api.JobStatus{Active: 2, Succeeded: 2, Failed: 1, StartTime: at(2)}

	tests := []struct {
		name    string
		setup   []*api.Command
		cmd     *api.Command
		wantErr error
		want    *api.JobStatus
	}{
		{name: "replaces the status", cmd: updateJobStatus("a", "uid-a", progress), want: progress},
		{name: "finishing is accepted", cmd: updateJobStatus("a", "uid-a", complete), want: complete},
		{
			name:  "a failure target does not finish the job",
			setup: []*api.Command{updateJobStatus("a", "uid-a", failing)},
			cmd:   updateJobStatus("a", "uid-a", failedAfterTarget), want: failedAfterTarget,
		},
		{
			name:  "refused after Complete",
			setup: []*api.Command{updateJobStatus("a", "uid-a", complete)},
			cmd:   updateJobStatus("a", "uid-a", progress), wantErr: ErrFinished, want: complete,
		},
		{
			name:  "refused after Failed",
			setup: []*api.Command{updateJobStatus("a", "uid-a", failed)},
			cmd:   updateJobStatus("a", "uid-a", complete), wantErr: ErrFinished, want: failed,
		},
		{name: "another uid is a conflict", cmd: updateJobStatus("a", "uid-old", progress), wantErr: ErrConflict},
		{name: "missing uid is a conflict", cmd: updateJobStatus("a", "", progress), wantErr: ErrConflict},
		{name: "missing job", cmd: updateJobStatus("nope", "uid-nope", progress), wantErr: ErrNotFound},
		{
			name:  "a stale status does not take back FailureTarget",
			setup: []*api.Command{updateJobStatus("a", "uid-a", failing)},
			cmd:   updateJobStatus("a", "uid-a", &api.JobStatus{Failed: 7, StartTime: at(2), Conditions: []*api.JobCondition{{Type: api.JobFailureTarget, Status: "False"}}}),
			want:  failing,
		},
		{
			name:  "a stale status does not take back SuccessCriteriaMet",
			setup: []*api.Command{updateJobStatus("a", "uid-a", meeting)},
			cmd:   updateJobStatus("a", "uid-a", progress),
			want:  progressMeeting,
		},
		{
			name:  "a stale status does not lower the counts",
			setup: []*api.Command{updateJobStatus("a", "uid-a", progress)},
			cmd:   updateJobStatus("a", "uid-a", stale), want: staleMerged,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(upsertJob(newJob("a", parallelism(2), completions(3)), true))
			h.must(tt.setup...)
			if err := h.apply(tt.cmd)[0]; !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			got := h.state().Job("", "a")
			if diff := diffObjects(tt.want, got.GetStatus()); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if diff := diffObjects(stored(newJob("a", parallelism(2), completions(3)), 1).GetSpec(), got.GetSpec()); diff != "" {
				t.Errorf("status update changed the spec (-want +got):\n%s", diff)
			}
		})
	}
}
