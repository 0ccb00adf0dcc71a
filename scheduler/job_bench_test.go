package scheduler

import (
	"fmt"
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

// BenchmarkReconcileBigJob is one controller pass over a Job well under
// way: 150 of its 200 pods running and many already finished, every one
// of which the pass reads. It runs on the leader after each change to the
// Job's pods. The leader hands the succeeded pods over in brief
// (brief=true); brief=false gives them whole.
func BenchmarkReconcileBigJob(b *testing.B) {
	for _, done := range []int{1000, 10000} {
		for _, failed := range []int{0, 10} {
			for _, brief := range []bool{true, false} {
				b.Run(fmt.Sprintf("succeeded=%d/failed=%d/brief=%v", done, failed, brief), func(b *testing.B) {
					job := newJob(200, 100000)
					var pods []*api.Pod
					for i := range done {
						pods = append(pods, newPod(fmt.Sprintf("s%d", i), api.PodSucceeded, finished(at(-400+i%300))))
					}
					for i := range failed {
						pods = append(pods, newPod(fmt.Sprintf("f%d", i), api.PodFailed, finished(at(-100-i))))
					}
					for i := range 150 {
						pods = append(pods, newPod(fmt.Sprintf("r%d", i), api.PodRunning))
					}
					in := JobInput{Job: job, Pods: pods, Now: at(0)}
					if brief {
						in = briefInput(in)
					}
					b.ReportAllocs()
					for b.Loop() {
						ReconcileJob(in)
					}
				})
			}
		}
	}
}
