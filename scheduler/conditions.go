package scheduler

import (
	"time"

	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Reasons and messages of the Job's conditions and events.
const (
	messageBackoffLimitExceeded = "Job has reached the specified backoff limit"
	messageJobDeadline          = "Job was active longer than specified deadline"
	messageCompletionsReached   = "Reached expected number of succeeded pods"
	messageJobSuspended         = "Job suspended"
	reasonJobResumed            = "JobResumed"
	messageJobResumed           = "Job resumed"
)

// setCondition makes the condition of type t have the given status, reason
// and message. A condition whose status changes, or a new one, gets now as
// its transition time. It reports whether anything changed.
func setCondition(s *api.JobStatus, t, status, reason, message string, now time.Time) bool {
	c := api.FindJobCondition(s, t)
	if c == nil {
		s.Conditions = append(s.Conditions, &api.JobCondition{
			Type:               t,
			Status:             status,
			Reason:             reason,
			Message:            message,
			LastProbeTime:      timestamppb.New(now),
			LastTransitionTime: timestamppb.New(now),
		})
		return true
	}
	if c.Status == status && c.Reason == reason && c.Message == message {
		return false
	}
	if c.Status != status {
		c.LastTransitionTime = timestamppb.New(now)
	}
	c.Status, c.Reason, c.Message = status, reason, message
	c.LastProbeTime = timestamppb.New(now)
	return true
}

// jobFinished reports whether a Job has ended (Complete or Failed True) and
// when: its completionTime, else the condition's transition time.
func jobFinished(s *api.JobStatus) (bool, time.Time) {
	for _, t := range []string{api.JobComplete, api.JobFailed} {
		c := api.FindJobCondition(s, t)
		if c.GetStatus() != api.ConditionTrue {
			continue
		}
		if t == api.JobComplete && s.GetCompletionTime() != nil {
			return true, s.GetCompletionTime().AsTime()
		}
		return true, c.GetLastTransitionTime().AsTime()
	}
	return false, time.Time{}
}

// ttlExpiry decides the ttlSecondsAfterFinished of a Job that finished at
// finishedAt: delete now, or the time to check again.
func ttlExpiry(job *api.Job, finishedAt, now time.Time) (bool, time.Time) {
	if job.GetSpec() == nil || job.GetSpec().TtlSecondsAfterFinished == nil {
		return false, time.Time{}
	}
	expiry := finishedAt.Add(seconds(int64(job.GetSpec().GetTtlSecondsAfterFinished())))
	if !now.Before(expiry) {
		return true, time.Time{}
	}
	return false, expiry
}

func seconds(n int64) time.Duration {
	return time.Duration(n) * time.Second
}
