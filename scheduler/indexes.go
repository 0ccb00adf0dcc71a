package scheduler

import (
	"maps"
	"slices"
	"strconv"

	"github.com/jobcluster/jobcluster/api"
)

// indexInRange reports whether i is a valid index for completions.
func indexInRange(i int, completions int32) bool {
	return i >= 0 && i < int(completions)
}

// succeededIndexes returns the set of indexes that succeeded: those already
// recorded in the Job's status and those of Succeeded pods. Recorded ones
// stay even when their pods are gone.
func succeededIndexes(recorded string, succeeded api.SucceededSum, completions int32) map[int]bool {
	done := parseIndexes(recorded, completions)
	for _, i := range succeeded.Indexes {
		if indexInRange(i, completions) {
			done[i] = true
		}
	}
	return done
}

// parseIndexes reads status.completedIndexes ("0-2,5"), keeping only
// indexes below completions. The status is this controller's own writing;
// should it ever be malformed, it counts as nothing recorded and the
// Succeeded pods still present are counted again.
func parseIndexes(s string, completions int32) map[int]bool {
	set := make(map[int]bool)
	indexes, _ := api.ParseCompletedIndexes(s)
	for _, i := range indexes {
		if indexInRange(i, completions) {
			set[i] = true
		}
	}
	return set
}

// formatIndexes writes a set of indexes in Kubernetes' completedIndexes
// format ("0-2,5,7,8").
func formatIndexes(set map[int]bool) string {
	return api.FormatCompletedIndexes(slices.Collect(maps.Keys(set)))
}

// freeIndexes returns up to want of the lowest indexes below completions
// that are neither done nor taken.
func freeIndexes(completions int32, done, taken map[int]bool, want int) []int {
	var free []int
	for i := 0; len(free) < want && indexInRange(i, completions); i++ {
		if !done[i] && !taken[i] {
			free = append(free, i)
		}
	}
	return free
}

// surplusIndexed returns the active pods of an Indexed Job that must go
// whatever the parallelism: pods with no valid index, pods of an index that
// already succeeded, and all but one pod of an index held twice.
func surplusIndexed(active []*api.Pod, completions int32, done map[int]bool) []*api.Pod {
	// Keep the oldest, most advanced pod of each index: removal order puts
	// the cheapest to lose first, so walk it backwards.
	ordered := slices.Clone(active)
	sortForRemoval(ordered)
	var surplus []*api.Pod
	held := make(map[int]bool)
	for k := len(ordered) - 1; k >= 0; k-- {
		p := ordered[k]
		i := api.PodCompletionIndex(p)
		if !indexInRange(i, completions) || done[i] || held[i] {
			surplus = append(surplus, p)
			continue
		}
		held[i] = true
	}
	slices.Reverse(surplus)
	return surplus
}

// setPodIndex gives a new pod of an Indexed Job its index: in its
// generateName, label, annotation and every container's environment.
func setPodIndex(pod *api.Pod, jobName string, index int) {
	idx := strconv.Itoa(index)
	m := pod.Metadata
	m.GenerateName = jobName + "-" + idx + "-"
	m.Labels[api.LabelCompletionIndex] = idx
	if m.Annotations == nil {
		m.Annotations = make(map[string]string)
	}
	m.Annotations[api.LabelCompletionIndex] = idx
	for _, c := range pod.GetSpec().GetContainers() {
		if !slices.ContainsFunc(c.Env, func(e *api.EnvVar) bool { return e.GetName() == api.EnvCompletionIndex }) {
			c.Env = append(c.Env, &api.EnvVar{Name: api.EnvCompletionIndex, Value: idx})
		}
	}
}
