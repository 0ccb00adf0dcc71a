package scheduler

import (
	"fmt"
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

// A pass over a Job of any size creates or stops at most
// MaxPodChangesPerPass pods, and the Job's status counts exactly what the
// pass did, so the next pass continues where it stopped.
func TestReconcileJobBoundsPodChangesPerPass(t *testing.T) {
	running := func(n int) []*api.Pod {
		out := make([]*api.Pod, n)
		for i := range out {
			out[i] = newPod(fmt.Sprintf("job-%06d", i), api.PodRunning)
		}
		return out
	}
	tests := []struct {
		name       string
		job        *api.Job
		pods       []*api.Pod
		wantCreate int
		wantStop   int
		wantActive int32
	}{
		{name: "parallelism 100000 from nothing", job: newJob(100000, 100000), wantCreate: 500, wantActive: 500},
		{name: "indexed, 100000 completions", job: newJob(100000, 100000, indexed), wantCreate: 500, wantActive: 500},
		{name: "work queue of 100000", job: newJob(100000, -1), wantCreate: 500, wantActive: 500},
		{name: "the last 300 missing", job: newJob(1000, 1000), pods: running(700), wantCreate: 300, wantActive: 1000},
		{name: "parallelism cut from 2000 to 100", job: newJob(100, 100000), pods: running(2000), wantStop: 500, wantActive: 1500},
		{name: "suspending 1200 running pods", job: newJob(1200, 1200, suspended), pods: running(1200), wantStop: 500, wantActive: 700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := ReconcileJob(JobInput{Job: tt.job, Pods: tt.pods, Now: at(0)})
			if len(plan.Create) != tt.wantCreate || len(plan.Stop) != tt.wantStop {
				t.Fatalf("plan creates %d and stops %d pods, want %d and %d", len(plan.Create), len(plan.Stop), tt.wantCreate, tt.wantStop)
			}
			if plan.Status == nil || plan.Status.GetActive() != tt.wantActive {
				t.Fatalf("status.active = %d, want %d", plan.Status.GetActive(), tt.wantActive)
			}
		})
	}
}
