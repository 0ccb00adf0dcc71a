package fsm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
)

// A node that is no longer Ready is announced with the pods it was
// running, the finished ones and other nodes' left out, at most 100 named.
func TestNodeNotReadyNamesItsPods(t *testing.T) {
	names := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%03d", prefix, i)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		// setup
		onNode   []string // pods bound to n1
		finished []string // of those, the ones that succeeded
		onOther  []string // pods bound to n2
		// want
		message string
		pods    string // details["pods"]
	}{
		{
			name:   "finished pods and another node's left out",
			onNode: []string{"p1", "p0", "p2"}, finished: []string{"p2"}, onOther: []string{"q0"},
			message: "Kubelet stopped posting node status.; 2 pods were running on it",
			pods:    "default/p0,default/p1",
		},
		{
			name:    "one pod",
			onNode:  []string{"p0"},
			message: "Kubelet stopped posting node status.; 1 pod was running on it",
			pods:    "default/p0",
		},
		{
			name:    "no pod",
			onOther: []string{"q0"},
			message: "Kubelet stopped posting node status.; no pods were running on it",
		},
		{
			name:    "more pods than are named",
			onNode:  names("p", 103),
			message: "Kubelet stopped posting node status.; 103 pods were running on it",
			pods:    "default/" + strings.Join(names("p", 100), ",default/") + ",... and 3 more",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			n := int32(len(tt.onNode) + len(tt.onOther))
			job := newJob("j", parallelism(max(n, 1)), completions(max(n, 1)))
			h.must(upsertJob(job, true), upsertNode(newNode("n1")), upsertNode(newNode("n2")))
			for i, name := range tt.onNode {
				h.must(createPods(newPod(job, name, i)), bindPods(2, name, "n1"))
			}
			for i, name := range tt.onOther {
				h.must(createPods(newPod(job, name, len(tt.onNode)+i)), bindPods(2, name, "n2"))
			}
			for _, name := range tt.finished {
				h.must(updatePodStatus(phase(name, "n1", api.PodSucceeded)))
			}
			down := newNode("n1")
			down.Status.Conditions[0].Status = "Unknown"
			down.Status.Conditions[0].Reason = "NodeStatusUnknown"
			down.Status.Conditions[0].Message = "Kubelet stopped posting node status."
			down.Status.Conditions[0].LastTransitionTime = at(9)
			h.must(upsertNode(down), upsertNode(down))
			var got []*api.Notification
			for _, n := range h.state().Notifications() {
				if n.GetEvent() == api.EventNodeNotReady {
					got = append(got, n)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d NodeNotReady notifications, want 1", len(got))
			}
			if got[0].GetName() != "n1" || got[0].GetReason() != "NodeStatusUnknown" || got[0].GetMessage() != tt.message {
				t.Errorf("notification of %s: %s: %q, want n1: NodeStatusUnknown: %q", got[0].GetName(), got[0].GetReason(), got[0].GetMessage(), tt.message)
			}
			if diff := cmp.Diff(tt.pods, got[0].GetDetails()["pods"]); diff != "" {
				t.Errorf("details.pods (-want +got):\n%s", diff)
			}
		})
	}
}
