package test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestManyJobsAtOnce submits 50 Jobs of random completions and
// parallelism in one file: every one completes with exactly its
// completions, never running more pods at once than its parallelism.
func TestManyJobsAtOnce(t *testing.T) {
	const jobs = 50
	c := jobsCluster(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	type want struct {
		name                     string
		completions, parallelism int
		rec                      *testcluster.Recorder
	}
	var wants []want
	var docs []string
	pods := 0
	for i := range jobs {
		w := want{
			name:        fmt.Sprintf("stress-%02d", i),
			completions: 1 + rng.Intn(5),
			parallelism: 1 + rng.Intn(3),
		}
		w.rec = &testcluster.Recorder{Path: filepath.Join(dir, w.name)}
		wants = append(wants, w)
		pods += w.completions
		spec := fmt.Sprintf("completions: %d\nparallelism: %d", w.completions, w.parallelism)
		docs = append(docs, jobDoc(w.name, spec, "Never", w.rec.Wrap("sleep 0.2")))
	}

	start := time.Now()
	c.Submit(strings.Join(docs, "---\n"))
	submitted := time.Since(start)
	finished := map[string]*testcluster.Job{}
	wait.Within(t, 90*time.Second, "every job to finish", func() (bool, string) {
		var list struct {
			Items []testcluster.Job `json:"items"`
		}
		r := c.CLI("get", "jobs", "-o", "json")
		if r.Err != nil {
			return false, r.Stderr
		}
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
			return false, err.Error()
		}
		for i := range list.Items {
			if _, done := list.Items[i].Finished(); done {
				finished[list.Items[i].Metadata.Name] = &list.Items[i]
			}
		}
		return len(finished) == jobs, fmt.Sprintf("%d of %d jobs finished after %s", len(finished), jobs, time.Since(start).Round(time.Millisecond))
	})
	elapsed := time.Since(start)
	t.Logf("%d jobs, %d pods of sleep 0.2: submit took %s, all finished after %s", jobs, pods, submitted.Round(time.Millisecond), elapsed.Round(time.Millisecond))
	if elapsed > 60*time.Second {
		t.Errorf("%d jobs took %s to finish, want under 60s", jobs, elapsed.Round(time.Second))
	}

	for _, w := range wants {
		t.Run(w.name, func(t *testing.T) {
			job := finished[w.name]
			if got, _ := job.Finished(); got != "Complete" || job.Status.Succeeded != w.completions || job.Status.Failed != 0 {
				t.Errorf("ended %s succeeded=%d failed=%d, want Complete %d 0", got, job.Status.Succeeded, job.Status.Failed, w.completions)
			}
			runs := finishedRuns(t, w.rec)
			if n := len(testcluster.PodNames(runs)); n != w.completions {
				t.Errorf("%d pods ran, want %d", n, w.completions)
			}
			if got := testcluster.MaxOverlap(runs); got > w.parallelism {
				t.Errorf("%d pods ran at once, want at most %d (parallelism)", got, w.parallelism)
			}
		})
	}
}
