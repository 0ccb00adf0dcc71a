package notify

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

func TestStuckPendingAnnouncesEachWaitOnce(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	job := func(name string, mods ...func(*api.Job)) *api.Job {
		j := &api.Job{Metadata: &api.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name}, Spec: &api.JobSpec{}}
		for _, m := range mods {
			m(j)
		}
		return j
	}
	pod := func(name string, created time.Time, node string, phase string) *api.Pod {
		return &api.Pod{
			Metadata: &api.ObjectMeta{Name: name, CreationTimestamp: timestamppb.New(created)},
			Spec:     &api.PodSpec{NodeName: node},
			Status: &api.PodStatus{Phase: phase, Conditions: []*api.PodCondition{{Type: api.PodScheduled, Status: "False",
				Message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."}}},
		}
	}
	suspended := func(j *api.Job) { j.Spec.Suspend = proto.Bool(true) }
	quiet := func(j *api.Job) { j.Metadata.Annotations = map[string]string{api.AnnotationNotify: "on-failure"} }
	pods := map[string][]*api.Pod{
		"stuck":     {pod("stuck-a", t0, "", api.PodPending), pod("stuck-b", t0.Add(time.Minute), "", api.PodPending), pod("stuck-c", t0, "n1", api.PodRunning)},
		"young":     {pod("young-a", t0.Add(9*time.Minute), "", api.PodPending)},
		"placed":    {pod("placed-a", t0, "n1", api.PodPending)},
		"suspended": {pod("suspended-a", t0, "", api.PodPending)},
		"quiet":     {pod("quiet-a", t0, "", api.PodPending)},
	}
	jobs := []*api.Job{job("stuck"), job("young"), job("placed"), job("suspended", suspended), job("quiet", quiet)}
	podsOf := func(j *api.Job) []*api.Pod { return pods[j.GetMetadata().GetName()] }
	now := t0.Add(10*time.Minute + 30*time.Second)
	got := StuckPending(jobs, podsOf, now, 10*time.Minute)
	if len(got) != 1 {
		t.Fatalf("notifications %v, want one for stuck", got)
	}
	n := got[0]
	wantMsg := "2 pods Pending for 10m30s: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
	if n.GetName() != "stuck" || n.GetEvent() != api.EventJobPending || n.GetMessage() != wantMsg || n.GetDetails()["pod"] != "stuck-a" {
		t.Errorf("notification %v, want stuck with %q", n, wantMsg)
	}
	later := StuckPending(jobs, podsOf, now.Add(time.Hour), 10*time.Minute)
	for _, l := range later {
		if l.GetName() == "stuck" && l.GetId() != n.GetId() {
			t.Errorf("the same wait got a new id later: %s, then %s", n.GetId(), l.GetId())
		}
	}
	if StuckPending(jobs, podsOf, now, 0) != nil {
		t.Errorf("a zero threshold announced")
	}
}

func TestTargetsGetOnlyTheEventsTheyAskFor(t *testing.T) {
	n := &api.Notification{Id: "x", Event: api.EventJobPending}
	all := Target{URL: "http://all"}
	failures := Target{URL: "http://failures", Events: []string{api.EventJobFailed}}
	pending := Target{URL: "http://pending", Events: []string{api.EventJobPending, api.EventNodeNotReady}}
	var urls []string
	for _, tg := range Due(n, []Target{all, failures, pending}, time.Now()) {
		urls = append(urls, tg.URL)
	}
	if len(urls) != 2 || urls[0] != "http://all" || urls[1] != "http://pending" {
		t.Errorf("due targets %v, want all and pending", urls)
	}
}
