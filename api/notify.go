package api

import (
	"fmt"
	"slices"
	"strings"
)

// AnnotationNotify picks which events of a Job or CronJob are announced to
// the cluster's webhooks: a comma-separated list of on-failure,
// on-complete, on-skip, on-miss, on-pending, or none. Without it:
// on-failure, on-skip, on-miss and on-pending.
const AnnotationNotify = "jobcluster.io/notify"

// Notification events.
const (
	EventJobFailed      = "JobFailed"
	EventJobComplete    = "JobComplete"
	EventCronJobFailed  = "CronJobFailed"
	EventCronJobSkipped = "CronJobSkipped"
	EventCronJobMissed  = "CronJobMissed"
	EventNodeNotReady   = "NodeNotReady"
	EventJobPending     = "JobPending"
)

// Events are every notification event, for webhook filters.
var Events = []string{EventJobFailed, EventJobComplete, EventJobPending, EventCronJobFailed, EventCronJobSkipped, EventCronJobMissed, EventNodeNotReady}

var notifyChoices = map[string][]string{
	"on-failure":  {EventJobFailed, EventCronJobFailed},
	"on-complete": {EventJobComplete},
	"on-skip":     {EventCronJobSkipped},
	"on-miss":     {EventCronJobMissed},
	"on-pending":  {EventJobPending},
	"none":        nil,
}

var defaultNotify = []string{"on-failure", "on-skip", "on-miss", "on-pending"}

// Notifies reports whether an object whose annotations are these wants
// event announced.
func Notifies(annotations map[string]string, event string) bool {
	choices := defaultNotify
	if v, ok := annotations[AnnotationNotify]; ok {
		choices = strings.Split(v, ",")
	}
	for _, c := range choices {
		if slices.Contains(notifyChoices[strings.TrimSpace(c)], event) {
			return true
		}
	}
	return false
}

func validateNotify(meta *ObjectMeta) []error {
	v, ok := meta.GetAnnotations()[AnnotationNotify]
	if !ok {
		return nil
	}
	for _, c := range strings.Split(v, ",") {
		if _, known := notifyChoices[strings.TrimSpace(c)]; !known {
			return []error{invalid("metadata.annotations["+AnnotationNotify+"]", v,
				fmt.Sprintf("%q is not one of on-failure, on-complete, on-skip, on-miss, on-pending, none", strings.TrimSpace(c)))}
		}
	}
	return nil
}
