package notify

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// PendingJob is a Job whose pods wait for a node, as StuckPending reads it.
type PendingJob struct {
	Job *api.Job
	// CronJob is the CronJob that made the Job, or nil. As for a failure,
	// its annotation, not the Job's, picks whether the Job is announced.
	CronJob *api.CronJob
	// Pods are the Job's unfinished pods that have no node.
	Pods []*api.Pod
	// Announced are the JobPending notifications already made for the Job
	// (their ids start with PendingPrefix of its uid).
	Announced []*api.Notification
}

// PendingPrefix starts the id of every JobPending notification of the Job
// with uid.
func PendingPrefix(uid string) string { return api.EventJobPending + "/" + uid + "/" }

// StuckPending decides which Jobs to announce stuck (JobPending) at now:
// those, neither suspended nor finished and not told otherwise by their
// notify annotation, whose oldest waiting pod has waited for a node at
// least after. A wait is announced once: the id names the Job and that
// pod's creation, and a Job already announced while that pod was waiting
// is still in the same wait. next is when a pod waiting now will have
// waited long enough, zero if none will; after <= 0 announces nothing.
func StuckPending(jobs []PendingJob, now time.Time, after time.Duration) (stuck []*api.Notification, next time.Time) {
	if after <= 0 {
		return nil, time.Time{}
	}
	for _, pj := range jobs {
		if !pendingWatched(pj) {
			continue
		}
		var waiting []*api.Pod
		var oldest *api.Pod
		for _, p := range pj.Pods {
			if !waitingForNode(p) {
				continue
			}
			waiting = append(waiting, p)
			if oldest == nil || created(p).Before(created(oldest)) {
				oldest = p
			}
		}
		if oldest == nil {
			continue
		}
		since := created(oldest)
		if due := since.Add(after); now.Before(due) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		if announcedSince(pj.Announced, since) {
			continue
		}
		stuck = append(stuck, pendingNotification(pj, waiting, oldest, now, after))
	}
	return stuck, next
}

// pendingWatched reports a Job that may be announced stuck.
func pendingWatched(pj PendingJob) bool {
	if pj.Job.GetSpec().GetSuspend() {
		return false
	}
	if _, done := api.JobFinished(pj.Job); done {
		return false
	}
	annotations := pj.Job.GetMetadata().GetAnnotations()
	if pj.CronJob != nil {
		annotations = pj.CronJob.GetMetadata().GetAnnotations()
	}
	return api.Notifies(annotations, api.EventJobPending)
}

func waitingForNode(p *api.Pod) bool {
	return p.GetStatus().GetPhase() == api.PodPending && p.GetSpec().GetNodeName() == "" && p.GetMetadata().GetDeletionTimestamp() == nil
}

func created(p *api.Pod) time.Time { return p.GetMetadata().GetCreationTimestamp().AsTime() }

// announcedSince reports an announcement made once the pod created at
// since was waiting: a pod never leaves its node, so that pod has waited
// ever since and the Job's wait has not ended.
func announcedSince(announced []*api.Notification, since time.Time) bool {
	for _, n := range announced {
		if !n.GetTime().AsTime().Before(since) {
			return true
		}
	}
	return false
}

func pendingNotification(pj PendingJob, waiting []*api.Pod, oldest *api.Pod, now time.Time, after time.Duration) *api.Notification {
	meta := pj.Job.GetMetadata()
	since := created(oldest)
	long := 0 // pods that have waited at least after
	for _, p := range waiting {
		if !now.Before(created(p).Add(after)) {
			long++
		}
	}
	waited := now.Sub(since).Truncate(time.Second)
	count := fmt.Sprintf("1 pod Pending for %s", waited)
	if long > 1 {
		count = fmt.Sprintf("%d pods Pending, the longest for %s", long, waited)
	}
	why, reason := "no node has taken it yet", api.ReasonUnschedulable
	for _, c := range oldest.GetStatus().GetConditions() {
		if c.GetType() == api.PodScheduled && c.GetStatus() == api.ConditionFalse && c.GetMessage() != "" {
			why = strings.TrimSpace(c.GetMessage())
			if c.GetReason() != "" {
				reason = c.GetReason()
			}
		}
	}
	details := map[string]string{
		"pod":          oldest.GetMetadata().GetName(),
		"pendingPods":  fmt.Sprint(long),
		"pendingSince": since.UTC().Format(time.RFC3339),
	}
	if pj.CronJob != nil {
		details["cronJob"] = pj.CronJob.GetMetadata().GetName()
	}
	return &api.Notification{
		Id:        fmt.Sprintf("%s%d", PendingPrefix(meta.GetUid()), since.UnixNano()),
		Event:     api.EventJobPending,
		Namespace: api.NamespaceOf(meta), Kind: "Job", Name: meta.GetName(),
		Reason:  reason,
		Message: fmt.Sprintf("%s: %s", count, why),
		Time:    timestamppb.New(now),
		Details: details,
	}
}
