package fsm

import (
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

// A node that is no longer Ready is announced with the pods it was
// running, the finished ones left out.
func TestNodeNotReadyNamesItsPods(t *testing.T) {
	h := newHarness(t)
	job := newJob("j", parallelism(3), completions(3))
	h.must(upsertJob(job, true), upsertNode(newNode("n1")))
	for i, name := range []string{"p0", "p1", "p2"} {
		h.must(createPods(newPod(job, name, i)), bindPods(2, name, "n1"))
	}
	h.must(updatePodStatus(phase("p2", "n1", api.PodSucceeded)))
	down := newNode("n1")
	down.Status.Conditions[0].Status = "Unknown"
	down.Status.Conditions[0].Reason = "NodeStatusUnknown"
	down.Status.Conditions[0].Message = "Kubelet stopped posting node status."
	down.Status.Conditions[0].LastTransitionTime = at(9)
	h.must(upsertNode(down))
	var got *api.Notification
	for _, n := range h.state().Notifications() {
		if n.GetEvent() == api.EventNodeNotReady {
			got = n
		}
	}
	if got == nil {
		t.Fatal("no NodeNotReady notification")
	}
	if got.GetDetails()["pods"] != "default/p0,default/p1" || !strings.HasSuffix(got.GetMessage(), "; 2 pods were running on it") {
		t.Errorf("notification %q, pods %q", got.GetMessage(), got.GetDetails()["pods"])
	}
}
