package scheduler

import (
	"cmp"
	"slices"

	"github.com/jobcluster/jobcluster/api"
)

// MaxPlacementsPerPass bounds how many waiting pods one pass tries to
// place, so a pass costs the same however many pods wait.
const MaxPlacementsPerPass = 1000

// FairOrder returns at most limit of the waiting pods in the order they
// should be offered free capacity: one pod of each Job in turn, Jobs by
// their oldest waiting pod, and within a Job oldest first. A Job with
// 100,000 waiting pods thus takes every other free slot at most while a
// small Job waits, instead of all of them.
func FairOrder(pods []*api.Pod, limit int) []*api.Pod {
	older := func(a, b *api.Pod) int {
		at, bt := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime()
		if c := at.Compare(bt); c != 0 {
			return c
		}
		return cmp.Compare(a.GetMetadata().GetName(), b.GetMetadata().GetName())
	}
	byJob := map[string][]*api.Pod{}
	var jobs []string
	for _, p := range pods {
		job := p.GetMetadata().GetLabels()[api.LabelJobName]
		if _, ok := byJob[job]; !ok {
			jobs = append(jobs, job)
		}
		byJob[job] = append(byJob[job], p)
	}
	for _, job := range jobs {
		slices.SortFunc(byJob[job], older)
	}
	slices.SortFunc(jobs, func(a, b string) int { return older(byJob[a][0], byJob[b][0]) })
	out := make([]*api.Pod, 0, min(limit, len(pods)))
	for round := 0; len(out) < limit; round++ {
		added := false
		for _, job := range jobs {
			if round < len(byJob[job]) && len(out) < limit {
				out = append(out, byJob[job][round])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}
