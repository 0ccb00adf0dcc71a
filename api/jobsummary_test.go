package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var summaryT0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func summaryAt(sec int) *timestamppb.Timestamp {
	return timestamppb.New(summaryT0.Add(time.Duration(sec) * time.Second))
}

func TestSummarizeJob(t *testing.T) {
	now := summaryT0.Add(time.Minute)
	tests := []struct {
		name         string
		job          *Job
		want         JobSummary
		progress     int64
		duration     time.Duration
		wantDuration bool
	}{
		{
			name: "not started: completions default to 1, no duration",
			job:  &Job{Metadata: &ObjectMeta{Name: "a", CreationTimestamp: summaryAt(0)}},
			want: JobSummary{Namespace: NamespaceDefault, Name: "a", Want: 1, Created: summaryT0.UnixNano()},
		},
		{
			name: "running: a third done, duration to now",
			job: &Job{Metadata: &ObjectMeta{Name: "b", Namespace: "team"}, Spec: &JobSpec{Completions: proto.Int32(3)},
				Status: &JobStatus{Succeeded: 1, Active: 2, StartTime: summaryAt(10)}},
			want:     JobSummary{Namespace: "team", Name: "b", Succeeded: 1, Active: 2, Want: 3, Started: summaryT0.Add(10 * time.Second).UnixNano()},
			progress: 33, duration: 50 * time.Second,
		},
		{
			name: "complete: ends at its completion time, 100% whatever it counted",
			job: &Job{Metadata: &ObjectMeta{Name: "c"}, Spec: &JobSpec{Completions: proto.Int32(4)},
				Status: &JobStatus{Succeeded: 2, StartTime: summaryAt(0), CompletionTime: summaryAt(20),
					Conditions: []*JobCondition{{Type: JobComplete, Status: ConditionTrue, LastTransitionTime: summaryAt(30)}}}},
			want: JobSummary{Namespace: NamespaceDefault, Name: "c", State: JobStateComplete, Succeeded: 2, Want: 4,
				Started: summaryT0.UnixNano(), Ended: summaryT0.Add(20 * time.Second).UnixNano()},
			progress: 100, duration: 20 * time.Second,
		},
		{
			name: "failed: ends when its condition became true",
			job: &Job{Metadata: &ObjectMeta{Name: "d"},
				Status: &JobStatus{Failed: 2, StartTime: summaryAt(0),
					Conditions: []*JobCondition{{Type: JobFailed, Status: ConditionTrue, LastTransitionTime: summaryAt(7)}}}},
			want: JobSummary{Namespace: NamespaceDefault, Name: "d", State: JobStateFailed, Failed: 2, Want: 1,
				Started: summaryT0.UnixNano(), Ended: summaryT0.Add(7 * time.Second).UnixNano()},
			duration: 7 * time.Second,
		},
		{
			name: "more succeeded than wanted: 100%",
			job:  &Job{Metadata: &ObjectMeta{Name: "e"}, Spec: &JobSpec{Completions: proto.Int32(2)}, Status: &JobStatus{Succeeded: 5}},
			want: JobSummary{Namespace: NamespaceDefault, Name: "e", Succeeded: 5, Want: 2}, progress: 100,
		},
		{
			name: "no completions wanted: 0%",
			job:  &Job{Metadata: &ObjectMeta{Name: "f"}, Spec: &JobSpec{Completions: proto.Int32(0)}},
			want: JobSummary{Namespace: NamespaceDefault, Name: "f"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SummarizeJob(tc.job)
			if got != tc.want {
				t.Errorf("summary %+v, want %+v", got, tc.want)
			}
			if p := got.Progress(); p != tc.progress {
				t.Errorf("progress %d, want %d", p, tc.progress)
			}
			if d := got.Duration(now); d != tc.duration {
				t.Errorf("duration %v, want %v", d, tc.duration)
			}
		})
	}
}

func TestJobQueryCheck(t *testing.T) {
	ok := JobQuery{PageSize: 100}
	tests := []struct {
		name string
		q    JobQuery
		want string // in the error; empty for none
	}{
		{name: "the defaults", q: ok},
		{name: "every field", q: JobQuery{Namespace: "team", State: "Failed", Sort: "-duration", Page: 3, PageSize: MaxJobPageSize}},
		{name: "a state not known", q: JobQuery{State: "Done", PageSize: 100}, want: `state: "Done" is not a Job state; give one of Running, Complete, Failed`},
		{name: "a column not known", q: JobQuery{Sort: "-size", PageSize: 100}, want: `sort: "-size" is not a column; give one of active, age, duration`},
		{name: "no page size", q: JobQuery{}, want: "page_size: 0 is out of range; give 1 to 1000"},
		{name: "a page too big", q: JobQuery{PageSize: MaxJobPageSize + 1}, want: "page_size: 1001 is out of range"},
		{name: "a negative page", q: JobQuery{Page: -1, PageSize: 100}, want: "page: -1 is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.q.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPageJobs(t *testing.T) {
	now := summaryT0.Add(time.Hour)
	sec := func(s int) int64 { return summaryT0.Add(time.Duration(s) * time.Second).UnixNano() }
	// In namespace and name order, as the servers list them.
	jobs := []*JobSummary{
		{Namespace: "a", Name: "old", State: JobStateComplete, Succeeded: 1, Want: 1, Created: sec(0), Started: sec(0), Ended: sec(100)},
		{Namespace: "a", Name: "run", Active: 1, Want: 4, Succeeded: 1, Created: sec(20), Started: sec(30)},
		{Namespace: "b", Name: "bad", State: JobStateFailed, Failed: 3, Want: 1, Created: sec(10), Started: sec(10), Ended: sec(15)},
		{Namespace: "b", Name: "new", Want: 1, Created: sec(30)},
		{Namespace: "c", Name: "twin", State: JobStateComplete, Succeeded: 1, Want: 1, Created: sec(0), Started: sec(0), Ended: sec(1)},
	}
	tests := []struct {
		name       string
		q          JobQuery
		want       string // names of the page's rows
		page       int64
		pages      int64
		total, all int64
	}{
		{name: "newest first by default; equal ages keep key order", q: JobQuery{PageSize: 10}, want: "new run bad old twin", page: 1, pages: 1, total: 5, all: 5},
		{name: "by name", q: JobQuery{Sort: "name", PageSize: 10}, want: "bad new old run twin", page: 1, pages: 1, total: 5, all: 5},
		{name: "by progress, descending", q: JobQuery{Sort: "-progress", PageSize: 10}, want: "old twin run bad new", page: 1, pages: 1, total: 5, all: 5},
		{name: "by duration: a running Job's runs to now", q: JobQuery{Sort: "-duration", PageSize: 10}, want: "run old bad twin new", page: 1, pages: 1, total: 5, all: 5},
		{name: "by state", q: JobQuery{Sort: "state", PageSize: 10}, want: "old twin bad run new", page: 1, pages: 1, total: 5, all: 5},
		{name: "one state", q: JobQuery{State: "Complete", PageSize: 10}, want: "old twin", page: 1, pages: 1, total: 2, all: 5},
		{name: "one namespace", q: JobQuery{Namespace: "b", Sort: "name", PageSize: 10}, want: "bad new", page: 1, pages: 1, total: 2, all: 5},
		{name: "a namespace and a state that keep none", q: JobQuery{Namespace: "c", State: "Failed", PageSize: 10}, want: "", page: 1, pages: 1, total: 0, all: 5},
		{name: "the second page of two", q: JobQuery{Sort: "name", Page: 2, PageSize: 2}, want: "old run", page: 2, pages: 3, total: 5, all: 5},
		{name: "page 0 is the first", q: JobQuery{Sort: "name", PageSize: 2}, want: "bad new", page: 1, pages: 3, total: 5, all: 5},
		{name: "a page past the last is the last", q: JobQuery{Sort: "name", Page: 9, PageSize: 2}, want: "twin", page: 3, pages: 3, total: 5, all: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.q.Check(); err != nil {
				t.Fatalf("query: %v", err)
			}
			p := PageJobs(jobs, tc.q, now)
			var names []string
			for _, r := range p.Rows {
				names = append(names, r.Name)
			}
			got := fmt.Sprintf("%s page %d/%d total %d all %d", strings.Join(names, " "), p.Page, p.Pages, p.Total, p.All)
			want := fmt.Sprintf("%s page %d/%d total %d all %d", tc.want, tc.page, tc.pages, tc.total, tc.all)
			if got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			if ns := strings.Join(p.Namespaces, ","); ns != "a,b,c" {
				t.Errorf("namespaces %s, want a,b,c whatever the filter", ns)
			}
		})
	}
}
