package scheduler

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
)

func TestFairOrder(t *testing.T) {
	waiting := func(job, name string, created int) *api.Pod {
		p := newPod(name, api.PodPending, unbound, func(p *api.Pod) {
			p.Metadata.CreationTimestamp = ts(at(created))
		})
		p.Metadata.Labels = map[string]string{api.LabelJobName: job}
		return p
	}
	big := []*api.Pod{waiting("big", "big-c", 3), waiting("big", "big-a", 1), waiting("big", "big-b", 2), waiting("big", "big-d", 4)}
	tests := []struct {
		name  string
		pods  []*api.Pod
		limit int
		want  []string
	}{
		{name: "nothing waits", limit: 10, want: []string{}},
		{name: "one Job: oldest first", pods: big, limit: 10, want: []string{"big-a", "big-b", "big-c", "big-d"}},
		{name: "a small Job after a big one takes turns with it",
			pods: append(append([]*api.Pod{}, big...), waiting("small", "small-x", 9)), limit: 10,
			want: []string{"big-a", "small-x", "big-b", "big-c", "big-d"}},
		{name: "the limit keeps the small Job in",
			pods: append(append([]*api.Pod{}, big...), waiting("small", "small-x", 9)), limit: 2,
			want: []string{"big-a", "small-x"}},
		{name: "Jobs in order of their oldest waiting pod",
			pods:  []*api.Pod{waiting("late", "late-a", 5), waiting("early", "early-a", 1), waiting("early", "early-b", 6)},
			limit: 10, want: []string{"early-a", "late-a", "early-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []string{}
			for _, p := range FairOrder(tt.pods, tt.limit) {
				got = append(got, p.GetMetadata().GetName())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}
