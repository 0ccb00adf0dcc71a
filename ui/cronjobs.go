package ui

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/scheduler"
)

// nextFireTimes is how many coming scheduled times a CronJob page lists.
const nextFireTimes = 5

// cronRow is one CronJob as the pages show it.
type cronRow struct {
	Namespace         string
	Name              string
	Schedule          string
	Words             string // the schedule in words
	TimeZone          string
	Suspended         bool
	ConcurrencyPolicy string
	Active            int
	LastSchedule      time.Time
	LastSuccess       time.Time
	// Next are the coming scheduled times, none while suspended; NextErr
	// says why there are none otherwise.
	Next    []fireTime
	NextErr string
}

// fireTime is a scheduled time in UTC and in the CronJob's zone.
type fireTime struct {
	At    time.Time
	UTC   string
	Local string
}

func newCronRow(cj *api.CronJob, now time.Time, n int) cronRow {
	spec, st := cj.GetSpec(), cj.GetStatus()
	r := cronRow{
		Namespace:         api.NamespaceOf(cj.GetMetadata()),
		Name:              cj.GetMetadata().GetName(),
		Schedule:          spec.GetSchedule(),
		Words:             scheduleWords(spec.GetSchedule()),
		TimeZone:          spec.GetTimeZone(),
		Suspended:         spec.GetSuspend(),
		ConcurrencyPolicy: spec.GetConcurrencyPolicy(),
		Active:            len(st.GetActive()),
		LastSchedule:      asTime(st.GetLastScheduleTime()),
		LastSuccess:       asTime(st.GetLastSuccessfulTime()),
	}
	if r.Suspended {
		return r
	}
	loc, err := api.CronLocation(cj)
	var times []time.Time
	if err == nil {
		times, err = scheduler.NextTimes(cj, loc, now, n)
	}
	if err != nil {
		r.NextErr = err.Error()
		return r
	}
	for _, t := range times {
		ft := fireTime{At: t, UTC: t.UTC().Format(time.RFC3339)}
		if r.TimeZone != "" {
			ft.Local = t.In(loc).Format("2006-01-02 15:04:05 MST")
		}
		r.Next = append(r.Next, ft)
	}
	return r
}

// nextAt is the first coming scheduled time, zero when there is none.
func (r cronRow) nextAt() time.Time {
	if len(r.Next) == 0 {
		return time.Time{}
	}
	return r.Next[0].At
}

var cronColumns = columns[cronRow]{
	"name":     byString(func(r cronRow) string { return r.Name }),
	"schedule": byString(func(r cronRow) string { return r.Schedule }),
	"zone":     byString(func(r cronRow) string { return r.TimeZone }),
	"suspend":  byString(func(r cronRow) string { return fmt.Sprint(r.Suspended) }),
	"active":   byInt(func(r cronRow) int64 { return int64(r.Active) }),
	"last":     byTime(func(r cronRow) time.Time { return r.LastSchedule }),
	"next":     byTime(func(r cronRow) time.Time { return r.nextAt() }),
}

func cronJobsView(ctx context.Context, s *server, q url.Values, _ []string) (any, error) {
	objs, err := s.list(ctx, &api.ListRequest{Kind: api.CronJobResource.Singular})
	if err != nil {
		return nil, err
	}
	now := s.now()
	rows := make([]cronRow, 0, len(objs))
	for _, obj := range objs {
		if cj := obj.GetCronJob(); cj != nil {
			rows = append(rows, newCronRow(cj, now, 1))
		}
	}
	sortRows(rows, q.Get("sort"), "name", cronColumns)
	return rows, nil
}

// cronDetail is one CronJob with its coming times, decisions and Jobs.
type cronDetail struct {
	Cron      cronRow
	Decisions []eventRow
	Jobs      []jobRow
}

func cronJobView(ctx context.Context, s *server, q url.Values, args []string) (any, error) {
	name := args[0]
	ns := api.NamespaceOr(q.Get("namespace"))
	obj, err := s.client.Get(ctx, &api.GetRequest{Kind: api.CronJobResource.Singular, Name: name, Namespace: ns})
	if err != nil {
		return nil, err
	}
	cj := obj.GetCronJob()
	if cj == nil {
		return nil, fmt.Errorf("%s %q: the server answered with a %s", api.CronJobResource.GroupResource(), name, api.KindOf(obj))
	}
	now := s.now()
	d := cronDetail{Cron: newCronRow(cj, now, nextFireTimes)}
	if d.Decisions, err = s.events(ctx, api.CronJobResource, ns, name); err != nil {
		return nil, err
	}
	sortRows(d.Decisions, q.Get("events-sort"), "-last", eventColumns)
	jobs, err := s.list(ctx, &api.ListRequest{Kind: api.JobResource.Singular, Namespace: ns})
	if err != nil {
		return nil, err
	}
	for _, obj := range jobs {
		if j := obj.GetJob(); j != nil {
			if r := newJobRow(j, now); r.CronJob == name {
				d.Jobs = append(d.Jobs, r)
			}
		}
	}
	order := api.CompareJobs(q.Get("jobs-sort"), now)
	slices.SortFunc(d.Jobs, func(a, b jobRow) int { return order(&a.summary, &b.summary) })
	return d, nil
}
