package testcluster

import (
	"fmt"
	"sort"
	"time"
)

// ScheduledTimestamp is the annotation a CronJob's Job carries with its
// scheduled time.
const ScheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp"

// CronJob is the part of a CronJob's JSON the tests read.
type CronJob struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Schedule          string `json:"schedule"`
		Suspend           *bool  `json:"suspend"`
		ConcurrencyPolicy string `json:"concurrencyPolicy"`
	} `json:"spec"`
	Status struct {
		Active []struct {
			Name string `json:"name"`
		} `json:"active"`
		LastScheduleTime   string `json:"lastScheduleTime"`
		LastSuccessfulTime string `json:"lastSuccessfulTime"`
	} `json:"status"`
}

// GetCronJob reads one CronJob.
func (c *Cluster) GetCronJob(name string) (*CronJob, error) {
	var cj CronJob
	if err := c.GetJSON(&cj, "cronjob", name); err != nil {
		return nil, err
	}
	return &cj, nil
}

// CronRun is one Job of a CronJob, as a user tells them apart.
type CronRun struct {
	Name string
	// Created is the Job's metadata.creationTimestamp.
	Created time.Time
	// Scheduled is parsed from the scheduled-timestamp annotation; zero
	// for a Job created by hand.
	Scheduled time.Time
	// Finished is "Complete", "Failed" or "" while the Job runs.
	Finished string
}

// cronJobJSON is the part of a Job's JSON that ties it to a CronJob.
type cronJobJSON struct {
	Job
	Metadata struct {
		Name              string            `json:"name"`
		CreationTimestamp string            `json:"creationTimestamp"`
		Annotations       map[string]string `json:"annotations"`
		OwnerReferences   []struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
}

// CronRuns lists the Jobs whose ownerReferences name the CronJob, oldest
// scheduled first (Jobs created by hand last, by name).
func (c *Cluster) CronRuns(cron string) ([]CronRun, error) {
	var list struct {
		Items []cronJobJSON `json:"items"`
	}
	if err := c.GetJSON(&list, "jobs"); err != nil {
		return nil, err
	}
	var runs []CronRun
	for _, j := range list.Items {
		owned := false
		for _, ref := range j.Metadata.OwnerReferences {
			owned = owned || ref.Kind == "CronJob" && ref.Name == cron
		}
		if !owned {
			continue
		}
		r := CronRun{Name: j.Metadata.Name}
		r.Finished, _ = j.Finished()
		var err error
		if r.Created, err = time.Parse(time.RFC3339Nano, j.Metadata.CreationTimestamp); err != nil {
			return nil, fmt.Errorf("job %s: creationTimestamp: %w", r.Name, err)
		}
		if s, ok := j.Metadata.Annotations[ScheduledTimestamp]; ok {
			if r.Scheduled, err = time.Parse(time.RFC3339, s); err != nil {
				return nil, fmt.Errorf("job %s: %s: %w", r.Name, ScheduledTimestamp, err)
			}
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, k int) bool {
		a, b := runs[i], runs[k]
		if a.Scheduled.IsZero() != b.Scheduled.IsZero() {
			return !a.Scheduled.IsZero()
		}
		if !a.Scheduled.Equal(b.Scheduled) {
			return a.Scheduled.Before(b.Scheduled)
		}
		return a.Name < b.Name
	})
	return runs, nil
}

// WrapStoppable is like Wrap, but a pod stopped with SIGTERM shuts down
// cleanly: it takes cleanup, then records its end and exits. body runs in
// the background so that the signal is handled at once; it must be a
// simple command without single quotes.
func (r *Recorder) WrapStoppable(body string, cleanup time.Duration) string {
	rec := func(what string) string { return fmt.Sprintf(`echo %s $(date +%%s%%N) $HOSTNAME >> %s`, what, r.Path) }
	return fmt.Sprintf(`trap 'sleep %[4]g; %[1]s; exit 143' TERM; %[2]s; %[3]s & wait $!; rc=$?; trap '' TERM; %[1]s; exit $rc`,
		rec("end"), rec("start"), body, cleanup.Seconds())
}
