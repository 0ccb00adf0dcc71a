package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// waitInterval is how often submit --wait reads the Jobs it follows.
const waitInterval = 200 * time.Millisecond

// jobWaiter follows Jobs until each has finished.
type jobWaiter struct {
	client   *client
	out      io.Writer
	interval time.Duration
	// unreachableFor is how long the servers may stay out of reach, or a
	// submitted Job stay unknown to them, before the wait gives up.
	unreachableFor time.Duration
}

// jobProgress is what a waiter prints about a Job when it changes.
type jobProgress struct {
	status      string
	completions string
}

// wait polls the Jobs, printing a line whenever one's STATUS or
// COMPLETIONS changes, until all have finished or ctx ends. It fails if a
// Job failed or disappeared before it finished.
func (w *jobWaiter) wait(ctx context.Context, names []string) error {
	pending := make(map[string]bool, len(names))
	for _, n := range names {
		pending[n] = true
	}
	var (
		last             = make(map[string]jobProgress)
		failed           []error
		unreachableSince time.Time
	)
	start := time.Now()
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for len(pending) > 0 {
		for _, name := range sortedKeys(pending) {
			obj, err := getObject(ctx, w.client, api.JobResource, name)
			switch {
			case isNotFound(err):
				// The server asked may trail the leader by a moment; a Job
				// seen before and now gone was deleted.
				if _, seen := last[name]; seen {
					failed = append(failed, fmt.Errorf("%s/%s was deleted before it finished", api.JobResource.GroupKind(), name))
					delete(pending, name)
				} else if time.Since(start) > w.unreachableFor {
					failed = append(failed, err)
					delete(pending, name)
				}
				continue
			case outOfReach(err):
				if unreachableSince.IsZero() {
					unreachableSince = time.Now()
				}
				if time.Since(unreachableSince) > w.unreachableFor {
					return err
				}
				continue
			case err != nil:
				return err
			}
			unreachableSince = time.Time{}
			j := obj.GetJob()
			p := jobProgress{status: jobStatus(j), completions: jobCompletions(j)}
			if old, seen := last[name]; !seen || old != p {
				fmt.Fprintln(w.out, progressLine(j, p))
				last[name] = p
			}
			if cond, done := api.JobFinished(j); done {
				delete(pending, name)
				if cond == api.JobFailed {
					failed = append(failed, fmt.Errorf("%s/%s failed%s", api.JobResource.GroupKind(), name, failureReason(j)))
				}
			}
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(append(failed, fmt.Errorf("timed out waiting for %s to finish", jobList(pending)))...)
		case <-ticker.C:
		}
	}
	return errors.Join(failed...)
}

// progressLine reads like "job.batch/pi Running 2/5".
func progressLine(j *api.Job, p jobProgress) string {
	line := fmt.Sprintf("%s/%s %s %s", api.JobResource.GroupKind(), j.GetMetadata().GetName(), p.status, p.completions)
	if p.status == api.JobFailed {
		line += failureReason(j)
	}
	return line
}

// failureReason is ": Reason: message" of the Failed condition, or empty.
func failureReason(j *api.Job) string {
	c := api.FindJobCondition(j.GetStatus(), api.JobFailed)
	switch {
	case c == nil || c.GetReason() == "":
		return ""
	case c.GetMessage() == "":
		return ": " + c.GetReason()
	default:
		return ": " + c.GetReason() + ": " + c.GetMessage()
	}
}

func isNotFound(err error) bool {
	var se *serverError
	return errors.As(err, &se) && se.reason == "NotFound"
}

func sortedKeys(set map[string]bool) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jobList reads like "job.batch/a, job.batch/b".
func jobList(set map[string]bool) string {
	names := sortedKeys(set)
	for i, n := range names {
		names[i] = api.JobResource.GroupKind() + "/" + n
	}
	return strings.Join(names, ", ")
}
