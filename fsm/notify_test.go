package fsm

import (
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

var failedStatus = &api.JobStatus{Failed: 1, Conditions: []*api.JobCondition{{Type: api.JobFailed, Status: api.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: at(9)}}}

func TestNotificationsAreCreatedOnceAsAnnotationsAsk(t *testing.T) {
	h := newHarness(t)
	quiet := newJob("quiet")
	quiet.Metadata.Annotations = map[string]string{api.AnnotationNotify: "none"}
	done := newJob("done")
	done.Metadata.Annotations = map[string]string{api.AnnotationNotify: "on-complete"}
	h.must(upsertJob(newJob("loud"), true), upsertJob(quiet, true), upsertJob(done, true), upsertCronJob(newCronJob("tick"), true))
	h.must(updateJobStatus("loud", "uid-loud", failedStatus), updateJobStatus("quiet", "uid-quiet", failedStatus), updateJobStatus("done", "uid-done", completeStatus))
	h.must(cronDecision("tick", 1, "JobAlreadyActive", nil), cronDecision("tick", 1, "JobAlreadyActive", nil))
	var got []string
	for _, n := range h.state().Notifications() {
		got = append(got, n.GetId()+" "+n.GetReason())
	}
	want := map[string]bool{
		"JobFailed/uid-loud BackoffLimitExceeded": true,
		"JobComplete/uid-done ":                   true,
		"CronJobSkipped/uid-tick/" + strconv.FormatInt(t0.Add(time.Minute).Unix(), 10) + " JobAlreadyActive": true,
	}
	if len(got) != len(want) {
		t.Fatalf("notifications %q, want %d of them", got, len(want))
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected notification %q", g)
		}
	}

	h.must((&api.RecordDeliveries{Results: []*api.DeliveryResult{{Id: "JobFailed/uid-loud", Target: "http://a", Error: "503", NextAttempt: timestamppb.New(t0)}}}).Command())
	h.must((&api.RecordDeliveries{Results: []*api.DeliveryResult{{Id: "JobFailed/uid-loud", Target: "http://a", Delivered: true}}}).Command())
	h.must((&api.RecordDeliveries{Results: []*api.DeliveryResult{{Id: "JobFailed/uid-loud", Target: "http://a", Error: "late"}}}).Command())
	for _, n := range restored(t, h.f).State().Notifications() {
		if n.GetId() != "JobFailed/uid-loud" {
			continue
		}
		if d := n.GetDeliveries(); len(d) != 1 || !d[0].GetDelivered() || d[0].GetAttempts() != 2 {
			t.Errorf("deliveries %v, want delivered after 2 attempts, a late failure ignored", d)
		}
	}
}

// Notifications the leader decides on (a Job stuck Pending) are added once
// by id, whatever a repeated or later proposal carries, and kept in
// snapshots.
func TestAddNotificationsOncePerID(t *testing.T) {
	h := newHarness(t)
	stuck := &api.Notification{Id: "JobPending/uid-j/1", Event: api.EventJobPending, Namespace: "default", Kind: "Job", Name: "j",
		Message: "1 pod Pending for 10m0s: no node", Time: at(5),
		Deliveries: []*api.NotificationDelivery{{Target: "http://a", Delivered: true}}}
	again := &api.Notification{Id: "JobPending/uid-j/1", Event: api.EventJobPending, Message: "1 pod Pending for 10m5s: no node", Time: at(10)}
	other := &api.Notification{Id: "JobPending/uid-k/1", Event: api.EventJobPending, Time: at(10)}
	add := func(ns ...*api.Notification) *api.Command {
		return (&api.AddNotifications{Notifications: ns}).Command()
	}
	h.must(add(stuck), add(stuck), add(again, other))
	if errs := h.apply(add(&api.Notification{Event: api.EventJobPending})); errs[0] == nil {
		t.Error("a notification without an id was added")
	}
	for _, st := range []*State{h.state(), restored(t, h.f).State()} {
		got := st.NotificationsWithPrefix("JobPending/uid-j/")
		if len(got) != 1 || got[0].GetMessage() != stuck.GetMessage() || len(got[0].GetDeliveries()) != 0 {
			t.Fatalf("notifications of j %v, want the first one, with no deliveries", got)
		}
		if n := len(st.Notifications()); n != 2 {
			t.Errorf("%d notifications, want 2", n)
		}
	}
}
