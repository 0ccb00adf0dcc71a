package cluster

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// BenchmarkScrapeMetrics serves GET /metrics from a running server that
// holds finished Jobs: a scrape reads counts
// the state machine keeps, so its time and allocations do not grow with
// the Jobs stored.
func BenchmarkScrapeMetrics(b *testing.B) {
	for _, jobs := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("finished=%d", jobs), func(b *testing.B) {
			servers, _ := startServers(b, 1)
			s := leaderOf(b, servers)
			fillFinishedJobs(b, s, jobs)
			if got := s.fsm.Counts().FinishedJobs; got != jobs {
				b.Fatalf("server holds %d finished Jobs, want %d", got, jobs)
			}
			h := s.registry.Handler()
			req := httptest.NewRequest("GET", "/metrics", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("GET /metrics = %d", rec.Code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/scrape")
		})
	}
}

// fillFinishedJobs proposes n finished Jobs, in large batches.
func fillFinishedJobs(b *testing.B, s *Server, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	done := timestamppb.New(time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC))
	const batch = 2000
	for start := 0; start < n; start += batch {
		var cmds []*api.Command
		for i := start; i < min(start+batch, n); i++ {
			name := fmt.Sprintf("done-%06d", i)
			job := &api.Job{
				ApiVersion: "batch/v1", Kind: "Job",
				Metadata: &api.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, CreationTimestamp: done,
					Labels: map[string]string{"app": "bench"}},
				Spec: &api.JobSpec{
					Parallelism: proto.Int32(1), Completions: proto.Int32(1), BackoffLimit: proto.Int32(6),
					CompletionMode: proto.String(api.CompletionModeNonIndexed),
					Template: &api.PodTemplateSpec{Spec: &api.PodSpec{
						RestartPolicy: api.RestartPolicyNever,
						Containers:    []*api.Container{{Name: "main", Image: "busybox", Command: []string{"true"}}},
					}},
				},
				Status: &api.JobStatus{Succeeded: 1, StartTime: done, CompletionTime: done, Conditions: []*api.JobCondition{
					{Type: api.JobComplete, Status: api.ConditionTrue, LastTransitionTime: done},
				}},
			}
			cmds = append(cmds, (&api.UpsertJob{Job: job, CreateOnly: true}).Command())
		}
		errs, err := s.proposer.Propose(ctx, cmds...)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range errs {
			if e != nil {
				b.Fatal(e)
			}
		}
	}
}
