package scheduler

import (
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// stopBeforeReplace reports whether the active Jobs have to stop before a
// new Job replaces them, and asks for those not yet suspended to be. The
// new Job is created only once every Job it replaces is suspended and has
// no pod left running, so old and new pods never run at once: a suspended
// Job gets no new pods, and its running ones are stopped by the job
// controller.
func (c *cronPass) stopBeforeReplace(scheduled time.Time) bool {
	running := make(map[string]bool)
	for _, p := range c.pods {
		if !api.IsPodTerminal(p) {
			running[p.GetMetadata().GetLabels()[api.LabelJobName]] = true
		}
	}
	wait := false
	for _, j := range c.active {
		name := j.GetMetadata().GetName()
		switch {
		case !j.GetSpec().GetSuspend():
			c.plan.SuspendJobs = append(c.plan.SuspendJobs, name)
			c.event(api.EventTypeNormal, "StoppingJob", "Stopping job "+name+" to replace it (scheduled time "+scheduled.UTC().Format(time.RFC3339)+")")
			wait = true
		case running[name]:
			wait = true
		}
	}
	return wait
}
