package scheduler

import (
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// The pod failure back-off of Kubernetes' job controller
// (DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff).
const (
	podFailureBackoff    = 10 * time.Second
	maxPodFailureBackoff = 6 * time.Minute
)

// failureBackoffEnd returns when new pods may be created again after the
// counted failures that followed the last success: 10s after the latest
// failure for one failure, doubling with each further one, capped at 6
// minutes. It is the zero time when no failure followed the last success.
func failureBackoffEnd(succeeded api.SucceededSum, failed []*api.Pod) time.Time {
	if len(failed) == 0 {
		return time.Time{}
	}
	lastSuccess := succeeded.LastFinished
	var n int
	var lastFailure time.Time
	for _, p := range failed {
		t := api.PodFinishTime(p)
		if succeeded.Count > 0 && !t.After(lastSuccess) {
			continue
		}
		n++
		if t.After(lastFailure) {
			lastFailure = t
		}
	}
	if n == 0 {
		return time.Time{}
	}
	return lastFailure.Add(backoffDelay(n))
}

// backoffDelay is the wait after n consecutive failures (n >= 1).
func backoffDelay(n int) time.Duration {
	d := podFailureBackoff
	for i := 1; i < n; i++ {
		d *= 2
		if d >= maxPodFailureBackoff {
			return maxPodFailureBackoff
		}
	}
	return d
}
