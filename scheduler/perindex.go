package scheduler

import (
	"strconv"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// Job condition messages of backoffLimitPerIndex, as Kubernetes words them.
const (
	messageFailedIndexes            = "Job has failed indexes"
	messageMaxFailedIndexesExceeded = "Job has exceeded the specified maximal number of failed indexes"
)

// perIndex is what backoffLimitPerIndex knows about the indexes of an
// Indexed Job: which failed for good, and the latest failed pod of each.
type perIndex struct {
	limit int32
	// failed holds the indexes that failed for good: a pod of the index
	// matched a FailIndex rule, or failed and counted once the index had
	// used up its retries. Recorded indexes stay failed.
	failed map[int]bool
	// lastFailed is the latest failed pod of each index, the one its next
	// pod replaces.
	lastFailed map[int]*api.Pod
}

// newPerIndex sorts the failed pods of an Indexed Job with
// backoffLimitPerIndex by index; done holds the indexes that succeeded,
// which never count as failed.
func newPerIndex(limit, completions int32, recorded string, failed []*api.Pod, verdicts map[*api.Pod]verdict, done map[int]bool) *perIndex {
	pi := &perIndex{
		limit:      limit,
		failed:     parseIndexes(recorded, completions),
		lastFailed: make(map[int]*api.Pod),
	}
	for _, pod := range failed {
		i := api.PodCompletionIndex(pod)
		if !indexInRange(i, completions) {
			continue
		}
		if last := pi.lastFailed[i]; last == nil || finishedBefore(last, pod) {
			pi.lastFailed[i] = pod
		}
		v := verdicts[pod]
		if v.action == api.PodFailurePolicyActionFailIndex || v.counts && indexFailureCount(pod) >= limit {
			pi.failed[i] = true
		}
	}
	for i := range done {
		delete(pi.failed, i)
	}
	return pi
}

// indexFailureCount reads how many counted failures of its index came
// before a pod (the batch.kubernetes.io/job-index-failure-count annotation).
func indexFailureCount(pod *api.Pod) int32 {
	return annotationCount(pod, api.AnnotationJobIndexFailureCount)
}

func indexIgnoredFailureCount(pod *api.Pod) int32 {
	return annotationCount(pod, api.AnnotationJobIndexIgnoredFailureCount)
}

func annotationCount(pod *api.Pod, key string) int32 {
	n, err := strconv.ParseInt(pod.GetMetadata().GetAnnotations()[key], 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}

// annotate gives a new pod of index i the failure counts of the pod it
// replaces, plus that pod's own failure.
func (pi *perIndex) annotate(pod *api.Pod, i int, verdicts map[*api.Pod]verdict) {
	var counted, ignored int32
	if last := pi.lastFailed[i]; last != nil {
		counted, ignored = indexFailureCount(last), indexIgnoredFailureCount(last)
		switch v := verdicts[last]; {
		case v.counts:
			counted++
		case v.ignored:
			ignored++
		}
	}
	pod.Metadata.Annotations[api.AnnotationJobIndexFailureCount] = strconv.Itoa(int(counted))
	if ignored > 0 {
		pod.Metadata.Annotations[api.AnnotationJobIndexIgnoredFailureCount] = strconv.Itoa(int(ignored))
	}
}

// backoffEnd returns when index i may get a new pod: the pod back-off of
// Kubernetes counted per index, from the latest counted failure of the
// index. Failures that do not count are replaced at once, as the Job-wide
// back-off does.
func (pi *perIndex) backoffEnd(i int, verdicts map[*api.Pod]verdict) time.Time {
	last := pi.lastFailed[i]
	if last == nil || !verdicts[last].counts {
		return time.Time{}
	}
	n := int(indexFailureCount(last)) + 1
	return api.PodFinishTime(last).Add(backoffDelay(n))
}

// outcome returns how the failed indexes end the Job, or nil: more failed
// indexes than maxFailedIndexes, or every index either succeeded or failed
// with at least one failed.
func (pi *perIndex) outcome(spec *api.JobSpec, succeeded int32) *outcome {
	n := int32(len(pi.failed))
	if spec.MaxFailedIndexes != nil && n > spec.GetMaxFailedIndexes() {
		return &outcome{api.JobFailureTarget, api.JobFailed, api.JobReasonMaxFailedIndexesExceeded, messageMaxFailedIndexesExceeded}
	}
	if n > 0 && n+succeeded >= spec.GetCompletions() {
		return &outcome{api.JobFailureTarget, api.JobFailed, api.JobReasonFailedIndexes, messageFailedIndexes}
	}
	return nil
}
