package notify

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

const unschedulable = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."

// waitingPod is a pod of no node, created at created, with the scheduler's
// reason when it has one.
func waitingPod(name string, created time.Time, reason string) *api.Pod {
	p := &api.Pod{
		Metadata: &api.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: timestamppb.New(created)},
		Spec:     &api.PodSpec{},
		Status:   &api.PodStatus{Phase: api.PodPending},
	}
	if reason != "" {
		p.Status.Conditions = []*api.PodCondition{{Type: api.PodScheduled, Status: api.ConditionFalse, Reason: api.ReasonUnschedulable, Message: reason}}
	}
	return p
}

func pendingJob(annotations map[string]string) *api.Job {
	return &api.Job{Metadata: &api.ObjectMeta{Name: "j", Namespace: "default", Uid: "u1", Annotations: annotations}, Spec: &api.JobSpec{}}
}

// pendingID is the id of the wait whose oldest pod was created at created.
func pendingID(created time.Time) string { return fmt.Sprintf("JobPending/u1/%d", created.UnixNano()) }

func TestStuckPending(t *testing.T) {
	const after = 10 * time.Minute
	start := t0                              // the oldest pod's creation
	now := start.Add(after + 30*time.Second) // the fake clock
	quiet := map[string]string{api.AnnotationNotify: "on-failure"}
	type announced struct{ id, message string }
	for _, tt := range []struct {
		name string
		// setup
		job       func() *api.Job
		cronJob   *api.CronJob
		pods      []*api.Pod
		announced []*api.Notification
		now       time.Time
		// want
		want    []announced
		details map[string]string
		next    time.Time
	}{
		{
			name:    "a pod waiting longer than the threshold",
			pods:    []*api.Pod{waitingPod("j-a", start, unschedulable)},
			want:    []announced{{pendingID(start), "1 pod Pending for 10m30s: " + unschedulable}},
			details: map[string]string{"pod": "j-a", "pendingPods": "1", "pendingSince": "2026-12-04T12:00:00Z"},
		},
		{
			name: "two pods past the threshold and a younger one",
			pods: []*api.Pod{waitingPod("j-b", start.Add(time.Second), unschedulable), waitingPod("j-a", start, unschedulable),
				waitingPod("j-c", start.Add(5*time.Minute), unschedulable)},
			want:    []announced{{pendingID(start), "2 pods Pending, the longest for 10m30s: " + unschedulable}},
			details: map[string]string{"pod": "j-a", "pendingPods": "2", "pendingSince": "2026-12-04T12:00:00Z"},
		},
		{
			name:    "no reason from the scheduler yet",
			pods:    []*api.Pod{waitingPod("j-a", start, "")},
			want:    []announced{{pendingID(start), "1 pod Pending for 10m30s: no node has taken it yet"}},
			details: map[string]string{"pod": "j-a", "pendingPods": "1", "pendingSince": "2026-12-04T12:00:00Z"},
		},
		{
			name: "waiting less than the threshold",
			pods: []*api.Pod{waitingPod("j-a", start.Add(time.Minute), unschedulable)},
			next: start.Add(time.Minute + after),
		},
		{
			name:    "exactly at the threshold",
			pods:    []*api.Pod{waitingPod("j-a", start, unschedulable)},
			now:     start.Add(after),
			want:    []announced{{pendingID(start), "1 pod Pending for 10m0s: " + unschedulable}},
			details: map[string]string{"pod": "j-a", "pendingPods": "1", "pendingSince": "2026-12-04T12:00:00Z"},
		},
		{
			name: "a pod bound to a node and not started yet",
			pods: []*api.Pod{func() *api.Pod { p := waitingPod("j-a", start, ""); p.Spec.NodeName = "n1"; return p }()},
		},
		{
			name: "a pod being deleted",
			pods: []*api.Pod{func() *api.Pod {
				p := waitingPod("j-a", start, "")
				p.Metadata.DeletionTimestamp = timestamppb.New(now)
				return p
			}()},
		},
		{
			name: "a suspended Job",
			job:  func() *api.Job { j := pendingJob(nil); j.Spec.Suspend = proto.Bool(true); return j },
			pods: []*api.Pod{waitingPod("j-a", start, unschedulable)},
		},
		{
			name: "a finished Job",
			job: func() *api.Job {
				j := pendingJob(nil)
				j.Status = &api.JobStatus{Conditions: []*api.JobCondition{{Type: api.JobFailed, Status: api.ConditionTrue}}}
				return j
			},
			pods: []*api.Pod{waitingPod("j-a", start, unschedulable)},
		},
		{
			name: "an annotation without on-pending",
			job:  func() *api.Job { return pendingJob(quiet) },
			pods: []*api.Pod{waitingPod("j-a", start, unschedulable)},
		},
		{
			name:    "an annotation asking for on-pending",
			job:     func() *api.Job { return pendingJob(map[string]string{api.AnnotationNotify: "on-pending"}) },
			pods:    []*api.Pod{waitingPod("j-a", start, unschedulable)},
			want:    []announced{{pendingID(start), "1 pod Pending for 10m30s: " + unschedulable}},
			details: map[string]string{"pod": "j-a", "pendingPods": "1", "pendingSince": "2026-12-04T12:00:00Z"},
		},
		{
			name:    "a CronJob's Job: the CronJob's annotation picks",
			cronJob: &api.CronJob{Metadata: &api.ObjectMeta{Name: "nightly", Annotations: quiet}},
			pods:    []*api.Pod{waitingPod("j-a", start, unschedulable)},
		},
		{
			name:    "a CronJob's Job, by default announced",
			job:     func() *api.Job { return pendingJob(quiet) },
			cronJob: &api.CronJob{Metadata: &api.ObjectMeta{Name: "nightly"}},
			pods:    []*api.Pod{waitingPod("j-a", start, unschedulable)},
			want:    []announced{{pendingID(start), "1 pod Pending for 10m30s: " + unschedulable}},
			details: map[string]string{"pod": "j-a", "pendingPods": "1", "pendingSince": "2026-12-04T12:00:00Z", "cronJob": "nightly"},
		},
		{
			name:      "already announced in this wait",
			pods:      []*api.Pod{waitingPod("j-a", start, unschedulable)},
			announced: []*api.Notification{{Id: pendingID(start), Time: timestamppb.New(start.Add(after))}},
		},
		{
			name:      "the announced pod placed, the next one waiting since before the announcement",
			pods:      []*api.Pod{waitingPod("j-b", start, unschedulable)},
			announced: []*api.Notification{{Id: pendingID(start.Add(-time.Hour)), Time: timestamppb.New(start.Add(2 * time.Minute))}},
		},
		{
			name:      "a new wait, every pod since created after the last announcement",
			pods:      []*api.Pod{waitingPod("j-b", start, unschedulable)},
			announced: []*api.Notification{{Id: pendingID(start.Add(-time.Hour)), Time: timestamppb.New(start.Add(-time.Minute))}},
			want:      []announced{{pendingID(start), "1 pod Pending for 10m30s: " + unschedulable}},
			details:   map[string]string{"pod": "j-b", "pendingPods": "1", "pendingSince": "2026-12-04T12:00:00Z"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			job := pendingJob(nil)
			if tt.job != nil {
				job = tt.job()
			}
			at := now
			if !tt.now.IsZero() {
				at = tt.now
			}
			got, next := StuckPending([]PendingJob{{Job: job, CronJob: tt.cronJob, Pods: tt.pods, Announced: tt.announced}}, at, after)
			var gotAnnounced []announced
			for _, n := range got {
				gotAnnounced = append(gotAnnounced, announced{n.GetId(), n.GetMessage()})
				if n.GetEvent() != api.EventJobPending || n.GetKind() != "Job" || n.GetName() != "j" || n.GetNamespace() != "default" ||
					n.GetReason() != api.ReasonUnschedulable || !n.GetTime().AsTime().Equal(at) {
					t.Errorf("notification %v, want JobPending of Job default/j at %v", n, at)
				}
				if diff := cmp.Diff(tt.details, n.GetDetails()); diff != "" {
					t.Errorf("details (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.want, gotAnnounced, cmp.AllowUnexported(announced{})); diff != "" {
				t.Errorf("announced (-want +got):\n%s", diff)
			}
			if !next.Equal(tt.next) {
				t.Errorf("next check %v, want %v", next, tt.next)
			}
		})
	}
}

// As the clock moves on, one wait keeps its id, and once announced is not
// announced again; the threshold 0 announces nothing.
func TestStuckPendingOverTime(t *testing.T) {
	const after = 2 * time.Second
	pods := []*api.Pod{waitingPod("j-a", t0, unschedulable)}
	var outbox []*api.Notification // what the FSM holds
	var ids []string
	for step := range 10 {
		now := t0.Add(time.Duration(step) * time.Second)
		got, next := StuckPending([]PendingJob{{Job: pendingJob(nil), Pods: pods, Announced: outbox}}, now, after)
		for _, n := range got {
			ids = append(ids, n.GetId())
		}
		outbox = append(outbox, got...)
		if now.Before(t0.Add(after)) && !next.Equal(t0.Add(after)) {
			t.Errorf("at %v the next check is %v, want %v", now, next, t0.Add(after))
		}
	}
	if diff := cmp.Diff([]string{pendingID(t0)}, ids); diff != "" {
		t.Errorf("announced (-want +got):\n%s", diff)
	}
	if got, next := StuckPending([]PendingJob{{Job: pendingJob(nil), Pods: pods}}, t0.Add(time.Hour), 0); got != nil || !next.IsZero() {
		t.Errorf("threshold 0: %v, next %v", got, next)
	}
}
