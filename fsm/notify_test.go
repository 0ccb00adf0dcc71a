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
