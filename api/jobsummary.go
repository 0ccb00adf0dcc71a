package api

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// JobSummary is what a table of Jobs filters and orders by: a few words
// of one Job, small enough that the servers keep one beside each finished
// Job and order a hundred thousand of them without decoding any.
type JobSummary struct {
	Namespace, Name string
	State           JobState
	// Succeeded, Failed and Active count the Job's pods.
	Succeeded, Failed, Active int32
	// Want is the completions the Job needs: spec.completions, 1 when
	// unset.
	Want int32
	// Created and Started are Unix nanoseconds, 0 when unset. Ended is
	// when the Job completed or failed, 0 while it runs.
	Created, Started, Ended int64
}

// SummarizeJob is the summary of Job j.
func SummarizeJob(j *Job) JobSummary {
	st := j.GetStatus()
	s := JobSummary{
		Namespace: NamespaceOf(j.GetMetadata()),
		Name:      j.GetMetadata().GetName(),
		State:     JobStateOf(j),
		Succeeded: st.GetSucceeded(), Failed: st.GetFailed(), Active: st.GetActive(),
		Want:    1,
		Created: nanos(j.GetMetadata().GetCreationTimestamp()),
		Started: nanos(st.GetStartTime()),
	}
	if completions, set := JobCompletions(j); set {
		s.Want = completions
	}
	if done := st.GetCompletionTime(); done != nil {
		s.Ended = nanos(done)
	} else if c := finishedJobCondition(st); c != nil {
		s.Ended = nanos(c.GetLastTransitionTime())
	}
	return s
}

// finishedJobCondition is the Job's true Complete or Failed condition, nil
// while it runs.
func finishedJobCondition(st *JobStatus) *JobCondition {
	for _, t := range []string{JobComplete, JobFailed} {
		if c := FindJobCondition(st, t); c.GetStatus() == ConditionTrue {
			return c
		}
	}
	return nil
}

// nanos is a timestamp in Unix nanoseconds, 0 for none.
func nanos(t *timestamppb.Timestamp) int64 {
	return t.GetSeconds()*int64(time.Second) + int64(t.GetNanos())
}

// Progress is the share of Want that succeeded, 0 to 100; a Complete Job
// is at 100 whatever it counted.
func (s *JobSummary) Progress() int64 {
	switch {
	case s.State == JobStateComplete:
		return 100
	case s.Want > 0:
		return min(100, int64(s.Succeeded)*100/int64(s.Want))
	}
	return 0
}

// Duration is how long the Job ran: from its start to its end, or to now
// while it runs; 0 before it started.
func (s *JobSummary) Duration(now time.Time) time.Duration {
	if s.Started == 0 {
		return 0
	}
	end := s.Ended
	if end == 0 {
		end = now.UnixNano()
	}
	return time.Duration(end - s.Started)
}

// jobOrders are the columns a table of Jobs can be ordered by, ascending.
var jobOrders = map[string]func(a, b *JobSummary, now time.Time) int{
	"name":      func(a, b *JobSummary, _ time.Time) int { return cmp.Compare(a.Name, b.Name) },
	"namespace": func(a, b *JobSummary, _ time.Time) int { return cmp.Compare(a.Namespace, b.Namespace) },
	"state":     func(a, b *JobSummary, _ time.Time) int { return cmp.Compare(a.State.String(), b.State.String()) },
	"progress":  func(a, b *JobSummary, _ time.Time) int { return cmp.Compare(a.Progress(), b.Progress()) },
	"succeeded": func(a, b *JobSummary, _ time.Time) int { return cmp.Compare(a.Succeeded, b.Succeeded) },
	"failed":    func(a, b *JobSummary, _ time.Time) int { return cmp.Compare(a.Failed, b.Failed) },
	"active":    func(a, b *JobSummary, _ time.Time) int { return cmp.Compare(a.Active, b.Active) },
	"duration":  func(a, b *JobSummary, now time.Time) int { return cmp.Compare(a.Duration(now), b.Duration(now)) },
	"age":       func(a, b *JobSummary, _ time.Time) int { return cmp.Compare(a.Created, b.Created) },
}

// DefaultJobOrder is the order of a table of Jobs that names none:
// newest first.
const DefaultJobOrder = "-age"

// MaxJobPageSize bounds a page of Jobs.
const MaxJobPageSize = 1000

// JobOrderKnown reports whether sort names a column Jobs can be ordered by,
// with or without the "-" of descending.
func JobOrderKnown(sort string) bool {
	_, ok := jobOrders[strings.TrimPrefix(sort, "-")]
	return ok
}

// CompareJobs is the order of a table of Jobs by sort, a column with "-"
// in front for descending (DefaultJobOrder when it names none), then by
// namespace and name, so that equal Jobs keep one order everywhere. now
// is when a running Job's duration ends.
func CompareJobs(sort string, now time.Time) func(a, b *JobSummary) int {
	if !JobOrderKnown(sort) {
		sort = DefaultJobOrder
	}
	key, desc := strings.CutPrefix(sort, "-")
	by := jobOrders[key]
	return func(a, b *JobSummary) int {
		c := by(a, b, now)
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		if c := cmp.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	}
}

// JobQuery asks for one page of a table of Jobs.
type JobQuery struct {
	// Namespace and State, when set, keep only the Jobs of that namespace
	// and in that state (JobState's String).
	Namespace, State string
	// Sort is a column of jobOrders, with "-" in front for descending;
	// empty is DefaultJobOrder.
	Sort string
	// Page counts from 1; a page past the last is the last. PageSize is 1
	// to MaxJobPageSize.
	Page, PageSize int64
}

// Query is the query a JobPage call asks.
func (r *JobPageRequest) Query() JobQuery {
	return JobQuery{Namespace: r.GetNamespace(), State: r.GetState(), Sort: r.GetSort(), Page: r.GetPage(), PageSize: r.GetPageSize()}
}

// Check says what is wrong with the query, naming the field and the fix.
func (q JobQuery) Check() error {
	if q.State != "" {
		if _, ok := ParseJobState(q.State); !ok {
			return fmt.Errorf("state: %q is not a Job state; give one of %s, or none for any", q.State, strings.Join(jobStateNames[:], ", "))
		}
	}
	if q.Sort != "" && !JobOrderKnown(q.Sort) {
		keys := strings.Join(slices.Sorted(maps.Keys(jobOrders)), ", ")
		return fmt.Errorf("sort: %q is not a column; give one of %s, with - in front for descending", q.Sort, keys)
	}
	if q.PageSize < 1 || q.PageSize > MaxJobPageSize {
		return fmt.Errorf("page_size: %d is out of range; give 1 to %d", q.PageSize, MaxJobPageSize)
	}
	if q.Page < 0 {
		return fmt.Errorf("page: %d is negative; pages count from 1", q.Page)
	}
	return nil
}

// ParseJobState is the state String names.
func ParseJobState(name string) (JobState, bool) {
	i := slices.Index(jobStateNames[:], name)
	return JobState(i), i >= 0
}

// JobPage is one page of a table of Jobs.
type JobPage struct {
	// Rows are the page's Jobs, in the table's order.
	Rows []*JobSummary
	// Page is the page answered, from 1; Pages is how many there are, at
	// least 1.
	Page, Pages int64
	// Total counts the Jobs the query keeps; All those of every namespace
	// and state, whose Namespaces, sorted, the page names.
	Total, All int64
	Namespaces []string
}

// PageJobs picks the page q asks for from jobs: those the namespace and
// state keep, ordered by q.Sort, then by namespace and name. now is when a
// running Job's duration ends. q must pass Check.
func PageJobs(jobs []*JobSummary, q JobQuery, now time.Time) JobPage {
	p := JobPage{All: int64(len(jobs))}
	state, byState := ParseJobState(q.State) // "" names no state: any
	kept := make([]*JobSummary, 0, len(jobs))
	for _, s := range jobs {
		if n := len(p.Namespaces); n == 0 || p.Namespaces[n-1] != s.Namespace {
			p.Namespaces = append(p.Namespaces, s.Namespace) // a run of one namespace once; sorted and compacted below
		}
		if (q.Namespace == "" || s.Namespace == q.Namespace) && (!byState || s.State == state) {
			kept = append(kept, s)
		}
	}
	p.Namespaces = slices.Compact(slices.Sorted(slices.Values(p.Namespaces)))
	slices.SortFunc(kept, CompareJobs(q.Sort, now))
	p.Total = int64(len(kept))
	p.Pages = max(1, (p.Total+q.PageSize-1)/q.PageSize)
	p.Page = min(max(q.Page, 1), p.Pages)
	from := (p.Page - 1) * q.PageSize
	p.Rows = kept[from:min(from+q.PageSize, p.Total)]
	return p
}
