package scheduler

import (
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// CronRelease is what the leader does, at one moment, about a CronJob's
// runs that were decided ahead of their time (CronInput.Lead).
type CronRelease struct {
	// Release are the Jobs whose time has come, or comes within the
	// release's lead: their pods, bound and held on their agents, start
	// at their time.
	Release []*api.Job
	// Withdraw are the Jobs to delete unrun: the CronJob was suspended
	// before their time came, and none of their pods has started.
	Withdraw []*api.Job
	Events   []Event
	// Next is when the earliest held run still to come is to be released
	// (its time less the lead), zero if none.
	Next time.Time
}

// ReleaseCronRuns decides, at now, about the Jobs of cj decided ahead of
// their time (api.AnnotationNotBefore on their pod template) that are
// neither finished nor released yet (released tells which are). A run is
// released lead before its time, so that the word reaches its agents
// before it and they start its pods on their own clocks at the time. Its
// fate is settled then, as a run decided at that moment would be: it
// starts unless the CronJob is suspended by then. A Job with a started
// pod is released whatever happened since, so that a leader that took
// office after another released it never stops what already runs.
func ReleaseCronRuns(cj *api.CronJob, jobs []*api.Job, podsOf func(*api.Job) []*api.Pod, released func(uid string) bool, now time.Time, lead time.Duration) CronRelease {
	var out CronRelease
	now = now.Add(lead)
	for _, j := range jobs {
		at, ok := api.NotBefore(j.GetSpec().GetTemplate().GetMetadata().GetAnnotations())
		if !ok || released(j.GetMetadata().GetUid()) {
			continue
		}
		if done, _ := jobFinished(j.GetStatus()); done {
			continue
		}
		if at.After(now) {
			if due := at.Add(-lead); out.Next.IsZero() || due.Before(out.Next) {
				out.Next = due
			}
			continue
		}
		if cj.GetSpec().GetSuspend() && !anyStarted(podsOf(j)) {
			out.Withdraw = append(out.Withdraw, j)
			out.Events = append(out.Events, Event{Type: api.EventTypeNormal, Reason: "Withdrawn",
				Message: "Withdrew job " + j.GetMetadata().GetName() + ", decided ahead of its time " + at.UTC().Format(time.RFC3339Nano) + ": the cronjob was suspended before it"})
			continue
		}
		out.Release = append(out.Release, j)
	}
	return out
}

// anyStarted tells whether an agent reported any of pods started.
func anyStarted(pods []*api.Pod) bool {
	for _, p := range pods {
		st := p.GetStatus()
		if ph := st.GetPhase(); ph == api.PodRunning || ph == api.PodSucceeded || ph == api.PodFailed || st.GetStartTime() != nil {
			return true
		}
		for _, cs := range st.GetContainerStatuses() {
			if cs.GetState().GetRunning() != nil || cs.GetState().GetTerminated() != nil {
				return true
			}
		}
	}
	return false
}
