package notify

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// StuckPending lists a JobPending notification for each live Job (not
// suspended, not finished) that has had a pod waiting for a node for
// longer than after, at now; podsOf gives a Job's pods. The id names the
// Job and the oldest waiting pod, so one waiting episode is announced
// once, by whichever leader sees it first.
func StuckPending(jobs []*api.Job, podsOf func(*api.Job) []*api.Pod, now time.Time, after time.Duration) []*api.Notification {
	if after <= 0 {
		return nil
	}
	var out []*api.Notification
	for _, j := range jobs {
		meta := j.GetMetadata()
		if j.GetSpec().GetSuspend() || !api.Notifies(meta.GetAnnotations(), api.EventJobPending) {
			continue
		}
		var oldest *api.Pod
		waiting := 0
		for _, p := range podsOf(j) {
			if p.GetStatus().GetPhase() != api.PodPending || p.GetSpec().GetNodeName() != "" || p.GetMetadata().GetDeletionTimestamp() != nil {
				continue
			}
			waiting++
			if oldest == nil || p.GetMetadata().GetCreationTimestamp().AsTime().Before(oldest.GetMetadata().GetCreationTimestamp().AsTime()) {
				oldest = p
			}
		}
		if oldest == nil {
			continue
		}
		since := oldest.GetMetadata().GetCreationTimestamp().AsTime()
		waited := now.Sub(since)
		if waited < after {
			continue
		}
		why := "no node has taken it yet"
		for _, c := range oldest.GetStatus().GetConditions() {
			if c.GetType() == api.PodScheduled && c.GetStatus() == "False" && c.GetMessage() != "" {
				why = c.GetMessage()
			}
		}
		pods := "1 pod"
		if waiting > 1 {
			pods = fmt.Sprintf("%d pods", waiting)
		}
		out = append(out, &api.Notification{
			Id:        fmt.Sprintf("%s/%s/%d", api.EventJobPending, meta.GetUid(), since.UnixNano()),
			Event:     api.EventJobPending,
			Namespace: api.NamespaceOf(meta), Kind: "Job", Name: meta.GetName(),
			Reason:  "Unschedulable",
			Message: fmt.Sprintf("%s Pending for %s: %s", pods, waited.Truncate(time.Second), why),
			Time:    timestamppb.New(now),
			Details: map[string]string{"pod": oldest.GetMetadata().GetName(), "pendingPods": fmt.Sprint(waiting), "pendingSince": since.UTC().Format(time.RFC3339)},
		})
	}
	return out
}
