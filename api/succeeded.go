package api

import (
	"strconv"
	"time"
)

// SucceededPod is what the job controller reads of a Succeeded pod: its
// completion index and when it ended. The store keeps a running Job's
// succeeded pods compressed and hands the controller these, so that a
// pass over a Job of 10,000 finished pods decodes none of them.
type SucceededPod struct {
	// Index is the completion index (PodCompletionIndex), -1 for none.
	Index int
	// Finished is when the pod ended (PodFinishTime).
	Finished time.Time
}

// SucceededSum sums up a Job's Succeeded pods as its controller reads
// them: how many, the latest finish, and their completion indexes. The
// store keeps it as pods succeed, so that a pass over a Job of 10,000
// finished pods walks none of them.
type SucceededSum struct {
	// Count is the number of Succeeded pods.
	Count int
	// LastFinished is the latest finish among them (PodFinishTime).
	LastFinished time.Time
	// Indexes are their completion indexes (PodCompletionIndex), those
	// that have one; an index may repeat.
	Indexes []int
}

// Add counts one more Succeeded pod.
func (s *SucceededSum) Add(p SucceededPod) {
	s.Count++
	if p.Finished.After(s.LastFinished) {
		s.LastFinished = p.Finished
	}
	if p.Index >= 0 {
		s.Indexes = append(s.Indexes, p.Index)
	}
}

// BriefOfSucceeded is what the job controller reads of a Succeeded pod.
func BriefOfSucceeded(p *Pod) SucceededPod {
	return SucceededPod{Index: PodCompletionIndex(p), Finished: PodFinishTime(p)}
}

// PodCompletionIndex is a pod's completion index, from its annotation
// (else its label) batch.kubernetes.io/job-completion-index, as
// Kubernetes' job controller reads it; -1 when it has none or it is not a
// non-negative number.
func PodCompletionIndex(p *Pod) int {
	s, ok := p.GetMetadata().GetAnnotations()[LabelCompletionIndex]
	if !ok {
		s, ok = p.GetMetadata().GetLabels()[LabelCompletionIndex]
	}
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// PodFinishTime is when a terminal pod ended: its containers' latest
// finishedAt, else its latest condition change, else when it was asked to
// stop, else when it was created (Kubernetes' getFinishedTime).
func PodFinishTime(p *Pod) time.Time {
	var latest time.Time
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if fa := cs.GetState().GetTerminated().GetFinishedAt(); fa != nil && fa.AsTime().After(latest) {
			latest = fa.AsTime()
		}
	}
	if !latest.IsZero() {
		return latest
	}
	for _, cond := range p.GetStatus().GetConditions() {
		if lt := cond.GetLastTransitionTime(); lt != nil && lt.AsTime().After(latest) {
			latest = lt.AsTime()
		}
	}
	if !latest.IsZero() {
		return latest
	}
	if dt := p.GetMetadata().GetDeletionTimestamp(); dt != nil {
		return dt.AsTime()
	}
	if ct := p.GetMetadata().GetCreationTimestamp(); ct != nil {
		return ct.AsTime()
	}
	return time.Time{}
}
