package test

import (
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// get jobs -w prints the list, then a row for each change, and keeps
// going across a leader change.
func TestGetWatchFollowsChangesAcrossALeaderKill(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 1})
	c.Submit(jobDoc("before", "", "Never", "true"))
	c.WaitJob("before", 30*time.Second)
	w := c.StartCLI("get", "jobs", "-w")
	wait.For(t, "the list", func() (bool, string) {
		out := w.Stdout()
		return strings.HasPrefix(out, "NAME") && strings.Contains(out, "before"), out
	})
	c.Submit(jobDoc("during", "", "Never", "true"))
	wait.For(t, "rows of the new Job up to Complete", func() (bool, string) {
		out := w.Stdout()
		return strings.Contains(out, "during") && rowWith(out, "during", "Complete"), out
	})
	c.Kill(c.Leader())
	c.WaitForLeader()
	c.Submit(jobDoc("after", "", "Never", "true"))
	wait.For(t, "the watch to see a Job made after the leader kill", func() (bool, string) {
		out := w.Stdout()
		return rowWith(out, "after", "Complete"), out + w.Stderr()
	})
	if strings.Count(w.Stdout(), "NAME") != 1 {
		t.Errorf("the header printed more than once:\n%s", w.Stdout())
	}
}

func rowWith(out, name, word string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, name+" ") && strings.Contains(l, word) {
			return true
		}
	}
	return false
}
